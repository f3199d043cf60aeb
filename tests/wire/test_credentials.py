"""The one checker of credentials and TLS material: what it refuses, and that it never tells."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from confighub import ConfigHub
from confighub._wire.credentials import (
    CLI_SPELLING,
    LIBRARY_SPELLING,
    authorization_metadata,
    check_credentials,
    check_root_certificates,
    check_tls_pair,
)
from confighub.sources import GrpcPollSource
from tests.support.tls import self_signed_pair

SECRET = "s3cret-Tok3n"
JUNK_CERT = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> tuple[tuple[Path, Path], tuple[Path, Path]]:
    """Two throwaway certificates for loopback, each with its own key."""
    return (
        self_signed_pair(tmp_path_factory.mktemp("one")),
        self_signed_pair(tmp_path_factory.mktemp("two")),
    )


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ({"token": SECRET + "\n"}, "token has leading or trailing whitespace"),
        ({"token": " " + SECRET}, "token has leading or trailing whitespace"),
        ({"basic": f"ann:{SECRET}\n"}, "basic has leading or trailing whitespace"),
        ({"basic": f"\tann:{SECRET}"}, "basic has leading or trailing whitespace"),
    ],
)
def test_a_credential_with_surrounding_whitespace_is_accepted(
    credentials: dict[str, str], message: str
) -> None:
    """A trailing newline (from a file) can never match, so it is refused at once."""
    with pytest.raises(ValueError, match=message) as caught:
        authorization_metadata(credentials.get("token"), credentials.get("basic"))
    assert "(a newline from a file?)" in str(caught.value)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize(
    ("token", "basic", "allow_both"),
    [
        (SECRET + "\n", None, False),
        (f"{SECRET}\n{SECRET}", None, False),
        (f"{SECRET}é", None, False),
        (SECRET.encode(), None, False),
        (None, f"ann:{SECRET}\r\n", False),
        (None, f"ann\n:{SECRET}", False),
        (None, SECRET, False),
        (None, SECRET.encode(), False),
        (SECRET, f"ann:{SECRET}", False),
        (f" {SECRET}", f"ann:{SECRET}", True),
    ],
)
@pytest.mark.parametrize("cli", [False, True])
def test_a_refusal_quotes_the_credential(
    token: str | None, basic: str | None, allow_both: bool, cli: bool
) -> None:
    """Every refusal of a token or basic credentials names the problem, never the secret."""
    spelling = CLI_SPELLING if cli else LIBRARY_SPELLING
    with pytest.raises((ValueError, TypeError)) as caught:
        check_credentials(token, basic, allow_both=allow_both, spelling=spelling)
    text = str(caught.value)
    assert SECRET not in text
    assert "token" in text or "basic" in text  # it names the setting


def test_a_token_a_header_cannot_carry_fails_at_every_poll(hub: ConfigHub) -> None:
    """A non-ASCII token, which grpc would refuse at each call, is refused at construction."""
    with pytest.raises(ValueError, match="printable ASCII") as caught:
        GrpcPollSource("127.0.0.1:1", hub, token=f"{SECRET}é")
    assert SECRET not in str(caught.value)


def test_junk_root_certificates_are_accepted(
    hub: ConfigHub, pairs: tuple[tuple[Path, Path], ...]
) -> None:
    """Root certificates that are not PEM certificates are refused when the source is built.

    A real bundle, with non-ASCII comments between its certificates, still passes.
    """
    junk = [
        (b"", "holds no PEM certificate"),
        (b"junk", "holds no PEM certificate"),
        (b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "holds no PEM"),
        (JUNK_CERT, "holds a certificate that cannot be read"),
    ]
    for pem, message in junk:
        with pytest.raises(ValueError, match=f"root_certificates {message}"):
            GrpcPollSource("127.0.0.1:1", hub, root_certificates=pem)
        with pytest.raises(ValueError, match=f"--tls-ca {message}"):
            check_root_certificates(pem, spelling=CLI_SPELLING)
    with pytest.raises(TypeError, match="root_certificates must be bytes"):
        GrpcPollSource("127.0.0.1:1", hub, root_certificates=JUNK_CERT.decode())  # type: ignore[arg-type]
    (one, _), (two, _) = pairs
    bundle = "# Főtanúsítvány\n".encode() + one.read_bytes() + b"# next\n" + two.read_bytes()
    GrpcPollSource("127.0.0.1:1", hub, root_certificates=bundle).stop()


def encrypted_key(folder: Path) -> Path:
    """A PEM private key encrypted with a password."""
    path = folder / "encrypted.pem"
    key = ec.generate_private_key(ec.SECP256R1())
    encryption = serialization.BestAvailableEncryption(b"password")
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return path


def test_tls_pair_problems_surface_only_when_serving(
    tmp_path: Path, pairs: tuple[tuple[Path, Path], ...]
) -> None:
    """Each unusable pair is refused up front, saying what is wrong, never quoting the key.

    A certificate and its own key pass, as paths, as str paths and as bytes.
    """
    (cert, key), (_, other_key) = pairs
    check_tls_pair(cert, key)
    check_tls_pair(str(cert), key.read_bytes())
    check_tls_pair(cert.read_bytes(), key.read_bytes(), spelling=CLI_SPELLING)
    check_tls_pair(None, None)
    junk_key = b"-----BEGIN PRIVATE KEY-----\nQUJDRA==\n-----END PRIVATE KEY-----\n"
    cases: list[tuple[object, object, type[Exception], str]] = [
        (cert, other_key, ValueError, "--tls-key does not belong to --tls-cert"),
        (JUNK_CERT, key, ValueError, "--tls-cert holds a certificate that cannot be read"),
        (b"not pem", key, ValueError, "--tls-cert is not PEM"),
        (key, key, ValueError, "--tls-cert holds no PEM certificate"),
        (cert, cert, ValueError, "--tls-key holds no private key"),
        (cert, junk_key, ValueError, "--tls-key cannot be read as a private key"),
        (cert, encrypted_key(tmp_path), ValueError, "--tls-key is encrypted"),
        (cert, tmp_path / "missing.pem", ValueError, "--tls-key: cannot read"),
        (cert.read_text(), key, TypeError, "--tls-cert looks like PEM text"),
        (cert, 42, TypeError, "--tls-key must be PEM contents"),
        (cert, None, ValueError, "TLS needs both --tls-cert and --tls-key"),
    ]
    key_lines = [line for line in key.read_text().splitlines() if "-----" not in line]
    for given_cert, given_key, error, message in cases:
        with pytest.raises(error) as caught:
            check_tls_pair(given_cert, given_key, spelling=CLI_SPELLING)
        text = str(caught.value)
        assert message in text, (message, text)
        assert not any(line in text for line in key_lines)
