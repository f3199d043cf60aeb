"""ManagementClient's edges: the URL and settings it refuses, and answers it will not take.

The odd answers (a redirect, a body that is not JSON, one too large) come from a plain
``http.server`` on loopback, since a HubServer never sends them.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from confighub import TracePoint
from confighub.exceptions import ManagementError
from confighub.manage import ManagementClient, _http, check_server_url
from confighub.server import HubServer, MemoryStore
from tests.support.tls import self_signed_pair

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)


class _Odd(BaseHTTPRequestHandler):
    """Answers by path: a redirect, text that is not JSON, or JSON that is not the API's."""

    def log_message(self, *args: object) -> None:
        """Quiet: the test reads the client's errors, not the server's log."""

    def do_GET(self) -> None:
        """One odd answer per path."""
        if self.path.endswith("/redirect/api/tracepoints"):
            self.send_response(307)
            self.send_header("Location", "http://elsewhere.example/api/tracepoints")
            self.end_headers()
            return
        body = b"<html>hello</html>" if "/html/" in self.path else b'["a list"]'
        if "/flag/" in self.path:
            body = b'{"currentHash": "ab12", "initialized": "no"}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def odd_url() -> Iterator[str]:
    """The URL of an ``_Odd`` server, shut down after the test."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odd)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://hub:1", "is not a server URL"),
        ("hub:8080", "is not a server URL"),
        ("http://", "is not a server URL"),
        ("http://:80", "names no host"),
        ("http://hub:99999", "port is not a number"),
        ("http://hub:1/?tenant=a", "no query"),
        ("http://hub:1/#top", "no query"),
    ],
)
def test_a_url_the_client_cannot_use_is_a_value_error(url: str, message: str) -> None:
    """Each bad URL fails at construction, saying why."""
    with pytest.raises(ValueError, match=message):
        ManagementClient(url)


@pytest.mark.parametrize("url", ["http://ann:pa55@hub:1", "https://pa55@hub:1/x", "http://a@b@hub"])
def test_credentials_in_the_url_are_refused_unshown(url: str) -> None:
    """Userinfo in the URL is refused, and the message quotes none of the URL."""
    with pytest.raises(ValueError, match="holds credentials") as caught:
        check_server_url(url)
    assert "pa55" not in str(caught.value)
    assert "hub" not in str(caught.value)


def test_the_url_is_kept_without_its_trailing_slash() -> None:
    """A prefix is kept, a trailing slash and the scheme's case are not."""
    assert check_server_url("HTTPS://hub:8443/confighub/") == "https://hub:8443/confighub"
    assert ManagementClient("http://[::1]:80").url == "http://[::1]:80"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"tenant": "a b"}, "invalid tenant id"),
        ({"token": " padded"}, "whitespace"),
        ({"token": "t", "basic": "a:b"}, "not both"),
        ({"basic": "no-colon"}, "user:password"),
        ({"timeout": 0}, "timeout"),
        ({"root_certificates": b"not pem"}, "no PEM certificate"),
    ],
)
def test_bad_settings_fail_at_construction(settings: dict[str, object], message: str) -> None:
    """Tenant, credentials, timeout and certificates are checked before any call."""
    with pytest.raises(ValueError, match=message):
        ManagementClient("http://127.0.0.1:1", **settings)  # type: ignore[arg-type]


def test_a_server_that_is_down_is_a_management_error_with_a_hint(dead_url: str) -> None:
    """No answer: status None, the method and URL named, and what to check."""
    with pytest.raises(ManagementError) as caught:
        ManagementClient(dead_url, token="s3cret").list()
    err = caught.value
    assert err.status is None
    assert str(err).startswith(f"GET {dead_url}/api/tracepoints failed: connection refused")
    assert "--http-port" in str(err)
    assert "s3cret" not in str(err)


def test_a_redirect_is_not_followed(odd_url: str) -> None:
    """The credentials would go along to wherever it points: refused, naming where."""
    with pytest.raises(ManagementError) as caught:
        ManagementClient(odd_url + "/redirect", token="s3cret").list()
    assert caught.value.status == 307
    assert "not followed" in str(caught.value)
    assert "elsewhere.example" in str(caught.value)


def test_an_answer_that_is_not_the_apis_is_refused(odd_url: str) -> None:
    """Text that is not JSON, JSON that is no object, a flag that is no boolean: refused."""
    with pytest.raises(ManagementError, match="not JSON"):
        ManagementClient(odd_url + "/html").list()
    with pytest.raises(ManagementError, match="not a JSON object"):
        ManagementClient(odd_url).get("x")
    with pytest.raises(ManagementError, match="'initialized' is not a boolean"):
        ManagementClient(odd_url + "/flag").list()


def test_an_answer_past_the_bound_is_not_read(
    odd_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body larger than MAX_ANSWER_BYTES (made small here) fails instead of filling memory."""
    monkeypatch.setattr(_http, "MAX_ANSWER_BYTES", 4)
    with pytest.raises(ManagementError, match="larger than 4 bytes"):
        ManagementClient(odd_url).list()


def test_tls_with_the_servers_root_certificate(tmp_path: Path) -> None:
    """Https works with the certificate as root; without it, a TLS error that says what to give."""
    cert, key = self_signed_pair(tmp_path)
    store = MemoryStore([CHECKOUT])
    with HubServer(store, http_port=0, tls_cert=str(cert), tls_key=str(key)) as server:
        assert server.http_url.startswith("https://")
        trusted = ManagementClient(server.http_url, root_certificates=cert.read_bytes())
        assert trusted.get("checkout") == CHECKOUT
        with pytest.raises(ManagementError, match="not trusted") as caught:
            ManagementClient(server.http_url).list()
        assert caught.value.status is None
    with pytest.raises(ValueError, match="https"):
        ManagementClient("http://127.0.0.1:1", root_certificates=cert.read_bytes())


@pytest.fixture
def dead_url() -> str:
    """An http URL on loopback where nothing listens (its port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
