"""What a store change costs the server: spliced UPDATE bodies and views caught up incrementally."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent import futures
from typing import Any

import grpc
import pytest
from deepproto.proto.poll.v1 import poll_pb2, poll_pb2_grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub import TracePoint, config_hash
from confighub.server import HubServer, MemoryStore, StoreState
from confighub.server._bodies import TracePointBytes, varint
from confighub.server._matching import YIELD_EVERY, MatchCache
from confighub.server._targeting import matches, resource_attributes
from confighub.server._views import ViewCache
from tests.support.polling import ids, poll, resource
from tests.support.strategies import configs
from tests.support.waiting import wait_until


def plain(digest: str, config: Sequence[TracePoint]) -> Any:
    """The UPDATE body as the protobuf serializer writes it, parsed."""
    return poll_pb2.PollResponse(
        current_hash=digest,
        response=[tp.to_proto() for tp in config],
        response_type=poll_pb2.UPDATE,
    )


def spliced(cache: TracePointBytes, config: Sequence[TracePoint]) -> Any:
    """The UPDATE body ``cache`` splices for ``config``, parsed."""
    body = asyncio.run(cache.update_body(config_hash(config), config))
    return poll_pb2.PollResponse.FromString(body)


def state(version: int, config: Sequence[TracePoint]) -> StoreState:
    """A store state of ``config``, as a store publishes it."""
    return StoreState(version, tuple(config), config_hash(config))


@settings(max_examples=60, deadline=None)
@given(
    versions=st.lists(configs(max_size=6), min_size=1, max_size=4),
    offload_at=st.sampled_from([1, 1000]),
)
def test_a_spliced_body_parses_to_the_plain_serializers_response(
    versions: list[list[TracePoint]], offload_at: int
) -> None:
    """Across a run of changes, the spliced body parses to the plain one, field for field.

    Not byte for byte: protobuf writes a map's entries (``args``) in no fixed order.
    """
    cache = TracePointBytes(offload_at=offload_at)
    for config in versions:
        assert spliced(cache, config) == plain(config_hash(config), config)


@given(length=st.integers(min_value=1, max_value=70_000))
def test_varint_frames_a_length_as_protobuf_does(length: int) -> None:
    """A field of ``length`` bytes is framed as the serializer frames it, past 1 and 2 bytes."""
    message = poll_pb2.PollResponse(current_hash="x" * length).SerializeToString()
    assert message[: 1 + len(varint(length))] == b"\x12" + varint(length)


def test_one_changed_tracepoint_is_the_only_one_serialized_again() -> None:
    """A change of one tracepoint in 500, the rest fresh but equal objects, serializes one."""
    first = [TracePoint(f"tp{n}", "app.py", n + 1) for n in range(500)]
    second = [TracePoint(f"tp{n}", "app.py", n + 1 + (n == 7)) for n in range(500)]
    cache = TracePointBytes(offload_at=1000)
    spliced(cache, first)
    assert cache.serialized == 500
    assert spliced(cache, second) == plain(config_hash(second), second)
    assert cache.serialized == 501


def test_the_per_tracepoint_byte_cache_is_bounded() -> None:
    """Past ``max_bytes`` the least recently used bytes go; bodies stay whole and right."""
    config = [TracePoint(f"tp{n}", "app.py", n + 1) for n in range(200)]
    one = len(config[0].to_proto().SerializeToString()) + 2
    cache = TracePointBytes(max_bytes=50 * one, offload_at=1000)
    assert spliced(cache, config) == plain(config_hash(config), config)
    assert cache.size <= 50 * one
    assert len(cache) <= 50
    assert spliced(cache, config) == plain(config_hash(config), config)


ENVS = ("prod", "dev", "test")
_targeting = st.sampled_from(
    [{}, {"env": "prod"}, {"env": "dev"}, {"env": ["prod", "dev"]}, {"env": "prod", "zone": "a"}]
)
_targeted = st.builds(
    TracePoint,
    id=st.sampled_from([f"tp{n}" for n in range(8)]),
    path=st.just("app.py"),
    line=st.integers(1, 3),
    targeting=_targeting,
)
_config = st.lists(_targeted, max_size=8, unique_by=lambda tp: tp.id)
_resources = st.lists(
    st.fixed_dictionaries({"env": st.sampled_from(ENVS)}, optional={"zone": st.just("a")}),
    min_size=1,
    max_size=4,
)


@settings(max_examples=80, deadline=None)
@given(
    versions=st.lists(_config, min_size=1, max_size=5),
    clients=_resources,
    skip=st.lists(st.booleans(), max_size=5),
)
def test_views_after_changes_are_what_matching_from_scratch_gives(
    versions: list[list[TracePoint]], clients: list[dict[str, str]], skip: list[bool]
) -> None:
    """Targeted tracepoints move in and out of the views as they change; untargeted ones stay."""
    views = ViewCache(state(0, versions[0]), max_views=3)
    for version, config in enumerate(versions):
        views.update(state(version, config))
        for n, attributes in enumerate(clients):
            if n < len(skip) and skip[n] and version < len(versions) - 1:
                continue  # a client that sits out a change catches up over two
            got = views.view_for(resource(**attributes))
            want = [
                tp
                for tp in config
                if matches(tp.targeting, resource_attributes(resource(**attributes)))
            ]
            assert Counter(got.tracepoints) == Counter(want)
            assert got.hash == config_hash(want)


def test_a_change_matches_only_the_changed_tracepoints() -> None:
    """After one targeted tracepoint changes, each resource matches one targeting, not them all."""
    config = [TracePoint(f"tp{n}", "a.py", n + 1, targeting={"host": f"h{n}"}) for n in range(300)]
    cache = MatchCache()
    cache.update(0, {tp.digest: tp.targeting for tp in config})
    clients = [resource(host=f"h{n}").SerializeToString(deterministic=True) for n in range(10)]
    for n, key in enumerate(clients):
        assert len(cache.matched(key, resource(host=f"h{n}"))) == 1
    assert cache.matchings == 10 * 300
    config[3] = TracePoint("tp3", "a.py", 4, targeting={"host": "h4"})
    cache.update(1, {tp.digest: tp.targeting for tp in config})
    for n, key in enumerate(clients):
        assert len(cache.matched(key, resource(host=f"h{n}"))) == {3: 0, 4: 2}.get(n, 1)
    assert cache.matchings == 10 * 300 + 10


def test_a_long_match_lets_the_loop_run_and_catches_up_with_a_change() -> None:
    """A new resource's long match yields between chunks; a change made meanwhile counts."""
    config = [
        TracePoint(f"tp{n}", "a.py", n + 1, targeting={"host": f"h{n}"})
        for n in range(3 * YIELD_EVERY)
    ]
    changed = [*config[:-1], TracePoint("last", "a.py", 1, targeting={"host": "h0"})]
    cache = MatchCache()
    cache.update(0, {tp.digest: tp.targeting for tp in config})
    sent = resource(host="h0")
    key = sent.SerializeToString(deterministic=True)
    turns: list[int] = []

    async def both() -> None:
        async def meanwhile() -> None:
            turns.append(cache.matchings)
            cache.update(1, {tp.digest: tp.targeting for tp in changed})

        await asyncio.gather(cache.prepare(key, sent), meanwhile())

    asyncio.run(both())
    assert 0 < turns[0] < 3 * YIELD_EVERY  # it ran while the match was under way
    before = cache.matchings
    assert cache.matched(key, sent) == {config[0].digest, changed[-1].digest}
    assert cache.matchings == before  # prepared for the new version: nothing left to match


def test_the_match_cache_keeps_at_most_max_resources() -> None:
    """Clients choose their resources: the least recently seen go first."""
    cache = MatchCache(max_resources=5)
    tp = TracePoint("t", "a.py", 1, targeting={"host": "h1"})
    cache.update(0, {tp.digest: tp.targeting})
    for n in range(20):
        sent = resource(host=f"h{n}")
        assert len(cache.matched(sent.SerializeToString(deterministic=True), sent)) == (n == 1)
    assert len(cache) == 5


@pytest.fixture
def served() -> Iterator[tuple[HubServer, Any]]:
    """A HubServer on 127.0.0.1 serving one untargeted and two targeted tracepoints."""
    store = MemoryStore(
        [
            TracePoint("all", "a.py", 1),
            TracePoint("prod", "p.py", 1, targeting={"env": "prod"}),
            TracePoint("dev", "d.py", 1, targeting={"env": "dev"}),
        ]
    )
    with HubServer(store, max_hold=30) as server, grpc.insecure_channel(server.target) as channel:
        yield server, poll_pb2_grpc.PollConfigStub(channel)


def test_held_polls_see_a_targeted_tracepoint_move_between_views(
    served: tuple[HubServer, Any],
) -> None:
    """Retargeted from dev to prod, a tracepoint leaves the dev view and joins the prod one."""
    server, stub = served
    store = server.store
    assert isinstance(store, MemoryStore)
    prod = poll(stub, attributes={"env": "prod"})
    dev = poll(stub, attributes={"env": "dev"})
    assert (ids(prod), ids(dev)) == ({"all", "prod"}, {"all", "dev"})
    with futures.ThreadPoolExecutor(2) as pool:
        held = [
            pool.submit(poll, stub, answer.current_hash, hold="20", attributes={"env": env})
            for answer, env in ((prod, "prod"), (dev, "dev"))
        ]
        wait_until(lambda: server.stats().held == 2, "both polls held")
        store.add(TracePoint("dev", "d.py", 1, targeting={"env": "prod"}))
        woken = [future.result(timeout=30) for future in held]
    assert [answer.response_type for answer in woken] == [poll_pb2.UPDATE] * 2
    assert (ids(woken[0]), ids(woken[1])) == ({"all", "prod", "dev"}, {"all"})
