"""`confighub serve` and `confighub watch`: the commands against real servers on loopback."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from deepproto.proto.tracepoint.v1 import tracepoint_pb2, tracepoint_pb2_grpc

from confighub import TracePoint, config_hash
from confighub.cli import main
from confighub.files import dump_tracepoints
from confighub.hub import ConfigHub
from confighub.server import HubServer, MemoryStore
from confighub.sources import GrpcPollSource
from tests.support.threads import main_in_thread
from tests.support.waiting import TIMEOUT, wait_until

CHECKOUT = TracePoint("checkout", "shop/checkout.py", 42)
CART = TracePoint("cart", "shop/cart.py", 17)


@pytest.fixture
def served() -> Iterator[tuple[MemoryStore, HubServer]]:
    """A HubServer on 127.0.0.1, port 0, serving a MemoryStore that holds CHECKOUT."""
    store = MemoryStore([CHECKOUT])
    with HubServer(store) as server:
        yield store, server


def test_watch_prints_each_change_as_a_json_line(
    served: tuple[MemoryStore, HubServer], capsys: pytest.CaptureFixture[str]
) -> None:
    """The first config, then an edit made while the watch holds a poll: two JSON lines."""
    store, server = served
    codes: list[int] = []
    thread = main_in_thread(
        ["watch", server.target, "--hold", "5", "--count", "2", "--json"], codes
    )
    wait_until(lambda: server.stats().held >= 1, "the watch to hold a poll")
    store.add(CART)
    thread.join(TIMEOUT)
    assert codes == [0]
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert (first["old_hash"], first["new_hash"]) == (None, config_hash([CHECKOUT]))
    assert [tp["id"] for tp in first["added"]] == ["checkout"]
    assert second["old_hash"] == first["new_hash"]
    assert second["new_hash"] == config_hash([CHECKOUT, CART])
    assert second["added"] == [CART.to_dict()]
    assert second["live"] == 2


def test_watch_path_filter_narrows_and_a_human_diff_is_printed(
    served: tuple[MemoryStore, HubServer], capsys: pytest.CaptureFixture[str]
) -> None:
    """--path keeps the cart only; without --json the change is a readable diff."""
    store, server = served
    store.add(CART)
    code = main(["watch", server.target, "--path", "shop/cart*", "--count", "1", "--interval", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "+ cart  shop/cart.py:17" in out
    assert "checkout" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["watch", "x:1", "--token", "a", "--basic", "u:p"], "not both"),
        (["watch", "x:1", "--basic", "nocolon"], "USER:PASS"),
        (["serve", "{file}", "--tls-cert", "{file}"], "TLS needs both --tls-cert and --tls-key"),
    ],
)
def test_bad_options_exit_2_with_a_usage_message(
    argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Contradictory or malformed options are usage errors, caught before anything starts."""
    file = tmp_path / "tp.yaml"
    file.write_text(dump_tracepoints([CHECKOUT]))
    assert main([arg.format(file=file) for arg in argv]) == 2
    assert message in capsys.readouterr().err


def test_serve_serves_the_file_reloads_it_takes_snapshots_and_stops_on_sigint(
    tmp_path: Path,
) -> None:
    """A real `confighub serve` process: polled, edited, sent a snapshot, then Ctrl-C'd."""
    file = tmp_path / "tracepoints.yaml"
    file.write_text(dump_tracepoints([CHECKOUT]))
    command = [sys.executable, "-c", "from confighub.cli import run; run()"]
    process = subprocess.Popen(
        [*command, "serve", str(file), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )

    def read_until(part: str) -> str:
        assert process.stdout is not None
        line = process.stdout.readline()
        while part not in line:
            assert line, f"the process ended before saying {part!r}"
            line = process.stdout.readline()
        return line

    try:
        match = re.search(r"on (127\.0\.0\.1:\d+)", read_until("serving PollConfig on"))
        assert match is not None
        target = match.group(1)
        banner = read_until("SIGHUP reloads")
        with ConfigHub() as hub:
            source = GrpcPollSource(target, hub)
            source.poll_once()
            assert hub.current_config == (CHECKOUT,)
            file.write_text(dump_tracepoints([CHECKOUT, CART]))
            reloaded = read_until("reloaded")
            source.poll_once()
            assert list(hub.current_config) == [CHECKOUT, CART]
        with grpc.insecure_channel(target) as channel:
            tracepoint_pb2_grpc.SnapshotServiceStub(channel).send(
                tracepoint_pb2.Snapshot(tracepoint=CART.to_proto()), timeout=TIMEOUT
            )
        snapshot = read_until("snapshot from")
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0, rest
    assert f"serving 1 tracepoint from {file}" in banner
    assert "2 tracepoints" in reloaded
    assert "snapshot from tracepoint cart at shop/cart.py:17" in snapshot
