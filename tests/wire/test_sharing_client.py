"""GrpcPollSource keeps a tracepoint whose wire form is unchanged as the same object."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from deepproto.proto.tracepoint.v1 import tracepoint_pb2

from confighub import ConfigHub, TracePoint
from confighub.sources import GrpcPollSource, PollResult, RejectedTracePoint
from tests.support.poll_server import PollServer
from tests.support.waiting import Recorder

CONFIG = tuple(
    TracePoint(
        f"tp-{n}",
        f"shop/module_{n % 4}.py",
        10 + n,
        {"condition": f"order.total > {n}", "fire_count": str(1 + n % 3)},
        ("order.id",) if n % 2 else (),
        targeting={"service": "shop"} if n % 3 == 0 else {},
    )
    for n in range(12)
)


class Client:
    """A source that polls a test server into a hub only when the test says so."""

    def __init__(self, server: PollServer, hub: ConfigHub) -> None:
        self.server = server
        self.hub = hub
        self.source = GrpcPollSource(server.target, hub, timeout=5.0)
        self.rejected = Recorder[RejectedTracePoint]()
        self.source.rejected.subscribe(self.rejected)

    def poll(self, *config: TracePoint) -> tuple[object, ...]:
        """Serve ``config``, poll it once, and return the hub's server config."""
        self.server.servicer.serve(*config)
        assert self.source.poll_once().updated
        return self.hub.server_config

    def poll_raw(self, new_hash: str, messages: list[Any]) -> PollResult:
        """Serve ``messages`` under ``new_hash`` and poll them once."""
        self.server.servicer.serve_raw(new_hash, messages)
        return self.source.poll_once()


@pytest.fixture
def client(server: PollServer, hub: ConfigHub) -> Iterator[Client]:
    """A ``Client`` of the test server, stopped after the test."""
    polling = Client(server, hub)
    yield polling
    polling.source.stop()


def edited(tp: TracePoint, condition: str) -> TracePoint:
    """``tp`` with another condition: the same id, another wire form."""
    return dataclasses.replace(tp, args={**tp.args, "condition": condition})


def test_unchanged_tracepoints_stay_the_same_objects(client: Client) -> None:
    """After two UPDATEs differing in one tracepoint, the others are the objects of the first."""
    first = client.poll(*CONFIG)
    new = edited(CONFIG[5], "order.total > 999")
    second = client.poll(*CONFIG[:5], new, *CONFIG[6:])
    assert second == (*CONFIG[:5], new, *CONFIG[6:])
    assert all(
        after is before
        for n, (before, after) in enumerate(zip(first, second, strict=True))
        if n != 5
    )
    assert second[5] is not first[5]


def test_a_tracepoint_whose_fields_change_under_its_id_is_rebuilt(client: Client) -> None:
    """Path and line changed, id kept: the hub gets a new tracepoint equal to the one sent."""
    first = client.poll(*CONFIG)
    moved = dataclasses.replace(CONFIG[0], path="shop/elsewhere.py", line=77)
    second = client.poll(moved, *CONFIG[1:])
    assert second[0] == moved
    assert second[0] != first[0]
    assert second[1:] == first[1:]
    assert all(after is before for before, after in zip(first[1:], second[1:], strict=True))


def test_an_invalid_changed_tracepoint_is_still_rejected_and_reported(client: Client) -> None:
    """A tracepoint changed to an invalid one is left out and published; the rest stay shared."""
    first = client.poll(*CONFIG)
    broken = tracepoint_pb2.TracePointConfig(ID=CONFIG[3].id, path="", line_number=4)
    messages = [tp.to_proto() for tp in CONFIG]
    messages[3] = broken
    result = client.poll_raw("hash-broken", messages)
    assert [item.tracepoint_id for item in result.rejected] == [CONFIG[3].id]
    assert result.rejected[0].error.field == "path"
    assert client.rejected.items == list(result.rejected)
    second = client.hub.server_config
    assert second == CONFIG[:3] + CONFIG[4:]
    assert all(after is before for before, after in zip(first[:3] + first[4:], second, strict=True))


def test_a_repeated_id_is_rejected_even_when_both_copies_were_seen(client: Client) -> None:
    """Both copies of an id the update repeats, unchanged since the last one, are left out."""
    first = client.poll(*CONFIG)
    messages = [tp.to_proto() for tp in CONFIG] + [CONFIG[2].to_proto()]
    result = client.poll_raw("hash-repeated", messages)
    assert [item.tracepoint_id for item in result.rejected] == [CONFIG[2].id] * 2
    assert "every copy is left out" in str(result.rejected[0].error)
    second = client.hub.server_config
    assert second == CONFIG[:2] + CONFIG[3:]
    assert all(after is before for before, after in zip(first[:2] + first[3:], second, strict=True))


def test_a_valid_and_an_invalid_copy_of_one_id_are_both_left_out_as_repeated(
    client: Client,
) -> None:
    """A seen tracepoint and an invalid message under its id: both rejected for the repeat."""
    client.poll(*CONFIG)
    broken = tracepoint_pb2.TracePointConfig(ID=CONFIG[0].id, path="", line_number=4)
    result = client.poll_raw("hash-mixed", [tp.to_proto() for tp in CONFIG] + [broken])
    assert [item.tracepoint_id for item in result.rejected] == [CONFIG[0].id] * 2
    assert all(item.error.field == "id" for item in result.rejected)
    assert client.hub.server_config == CONFIG[1:]


def test_a_tracepoint_removed_and_added_again_is_rebuilt(client: Client) -> None:
    """A tracepoint gone for one UPDATE comes back as a new object equal to the one sent."""
    first = client.poll(*CONFIG)
    client.poll(*CONFIG[1:])
    third = client.poll(*CONFIG)
    assert third == CONFIG
    assert third[0] is not first[0]
    assert all(after is before for before, after in zip(first[1:], third[1:], strict=True))


def test_a_rejected_tracepoint_is_rejected_again_when_sent_again(client: Client) -> None:
    """An invalid tracepoint is never kept: the next UPDATE that holds it rejects it again."""
    broken = tracepoint_pb2.TracePointConfig(ID="tp-bad", path="", line_number=4)
    messages = [tp.to_proto() for tp in CONFIG] + [broken]
    for version in ("hash-1", "hash-2"):
        result = client.poll_raw(version, messages)
        assert [item.tracepoint_id for item in result.rejected] == ["tp-bad"]
        assert result.applied == len(CONFIG)
        assert client.hub.server_config == CONFIG


def test_many_versions_share_every_tracepoint_never_changed(client: Client) -> None:
    """Over six versions, each changing another tracepoint, only the changed ones are new."""
    config = CONFIG
    seen = [client.poll(*config)]
    for step in range(1, 6):
        config = (*config[:step], edited(config[step], f"v > {step}"), *config[step + 1 :])
        seen.append(client.poll(*config))
        assert seen[-1] == config
    distinct = {id(tp) for version in seen for tp in version}
    assert len(distinct) == len(CONFIG) + 5
    assert all(len({id(version[n]) for version in seen}) == 1 for n in range(6, len(CONFIG)))
