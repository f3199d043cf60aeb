"""Several ``HubServer`` replicas of one Redis, each serving a ``RedisStore`` of its own.

A replica is what one ``confighub serve --store redis://…`` is behind a load balancer:
its own store object (its own connection, its own follower of the change log) on the
same URL and namespace as the others, and its own gRPC and HTTP ports. The helpers here
read a replica from the outside, as an orchestrator, an agent or a script would: its
``/readyz``, its ``/metrics``, its listing, a poll.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Sequence
from concurrent import futures
from typing import Any, NamedTuple

import grpc
from deepproto.proto.poll.v1 import poll_pb2_grpc

from confighub import ConfigChange, ConfigHub, SourceStatus, TracePoint
from confighub.manage import Listing, ManagementClient
from confighub.server import HubServer
from confighub.sources import GrpcPollSource
from confighub.stores import RedisStore, StoreState
from tests.http.conftest import call
from tests.support.observing import watch
from tests.support.polling import poll
from tests.support.waiting import TIMEOUT, Recorder, wait_until

REPLICAS = 3
NAMES = "ABCDEFGH"
HOLD = "30"
"""The ``confighub-hold`` a held poll sends: longer than any test waits for its answer."""

_STORE_READY = re.compile(r"^confighub_store_ready (\S+)$", re.MULTILINE)


class Replica:
    """One ``HubServer`` with its HTTP API, serving a ``RedisStore`` of its own."""

    __slots__ = ("name", "server", "store")

    def __init__(self, name: str, server: HubServer, store: RedisStore) -> None:
        self.name = name
        self.server = server
        self.store = store

    def __repr__(self) -> str:
        return f"Replica({self.name}, {self.server!r})"

    @property
    def http_url(self) -> str:
        """The base URL of its HTTP API."""
        return self.server.http_url

    @property
    def target(self) -> str:
        """Where a gRPC client reaches it."""
        return self.server.target

    @property
    def client(self) -> ManagementClient:
        """A management client of its HTTP API."""
        return ManagementClient(self.http_url)

    def listing(self) -> Listing:
        """The config it serves, read over HTTP."""
        return self.client.list()

    def readiness(self) -> tuple[int, str | None]:
        """The status of its ``/readyz`` and the reason it gives (None when ready)."""
        answer = call("GET", f"{self.http_url}/readyz")
        reason: str | None = answer.json().get("reason")
        return answer.status, reason

    def store_ready(self) -> float:
        """The value of ``confighub_store_ready`` in a scrape of its ``/metrics``."""
        answer = call("GET", f"{self.http_url}/metrics")
        assert answer.status == 200, answer
        found = _STORE_READY.search(answer.body.decode())
        assert found is not None, f"{self.name}'s /metrics has no confighub_store_ready"
        return float(found[1])

    def stop(self) -> None:
        """Stop the server, which detaches its store."""
        self.server.stop()


def start_replica(
    url: str,
    name: str,
    *,
    seed: Iterable[TracePoint] | None = None,
) -> Replica:
    """A started replica of the Redis at ``url`` (default namespace), named ``name``."""
    store = RedisStore(url, seed=seed)
    server = HubServer(store, http_port=0, max_hold=float(HOLD))
    server.start()
    return Replica(name, server, store)


@contextlib.contextmanager
def replicas(
    url: str,
    count: int = REPLICAS,
    *,
    seeds: Sequence[Iterable[TracePoint] | None] = (),
) -> Iterator[list[Replica]]:
    """``count`` replicas of the Redis at ``url``, started at once, stopped after the block.

    At once, as a deploy starts them: replicas with a seed then race to write it.
    ``seeds[n]`` is the seed of the n-th (none past the end of ``seeds``).
    """
    with futures.ThreadPoolExecutor(count) as pool:
        starting = [
            pool.submit(start_replica, url, NAMES[n], seed=seeds[n] if n < len(seeds) else None)
            for n in range(count)
        ]
    started = [future.result() for future in starting if future.exception() is None]
    try:
        for future in starting:
            future.result()  # the first failure to start, if any, after the others are kept
        yield started
    finally:
        for replica in started:
            replica.stop()


def fresh_state(url: str) -> StoreState:
    """The config a new ``RedisStore`` of ``url`` reads: what Redis holds now."""
    with RedisStore(url).start() as fresh:
        return fresh.state


def converged(group: Sequence[Replica], url: str, expected: str | None = None) -> str:
    """Wait until every replica lists the hash a fresh ``RedisStore`` of ``url`` reads; return it.

    With ``expected``, until that hash is the one they all agree on.
    """
    hashes: list[str] = []

    def agreed() -> bool:
        hashes[:] = [fresh_state(url).hash, *(replica.listing().hash for replica in group)]
        return len(set(hashes)) == 1 and hashes[0] == (expected or hashes[0])

    wanted = f" on {expected}" if expected else ""
    wait_until(agreed, f"the replicas to agree with Redis{wanted} (last seen: {hashes})")
    return hashes[0]


def wait_ready(group: Sequence[Replica], *, ready: bool = True, reason: str = "") -> list[str]:
    """Wait until every replica's ``/readyz`` says ``ready`` (with ``reason`` in its reason).

    Returns the reasons given (empty strings when ready).
    """
    status = 200 if ready else 503
    seen: list[tuple[int, str | None]] = []

    def there() -> bool:
        seen[:] = [replica.readiness() for replica in group]
        return all(code == status and reason in (said or "") for code, said in seen)

    wait_until(there, f"/readyz {status} {reason!r} on every replica (last seen: {seen})")
    return [said or "" for _, said in seen]


@contextlib.contextmanager
def held_polls(group: Sequence[Replica], current_hash: str) -> Iterator[list[futures.Future[Any]]]:
    """A poll held on each replica by a client holding ``current_hash``; its answer, as a future.

    The block starts once every replica holds its poll; the polls are cancelled after it.
    """
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(futures.ThreadPoolExecutor(len(group)))
        holding = [replica.server.stats().held + 1 for replica in group]
        answers = []
        for replica in group:
            channel = stack.enter_context(grpc.insecure_channel(replica.target))
            stub = poll_pb2_grpc.PollConfigStub(channel)
            answers.append(pool.submit(poll, stub, current_hash, hold=HOLD, timeout=TIMEOUT))
        for replica, count in zip(group, holding, strict=True):
            wait_holding(replica, count)
        yield answers


def wait_holding(replica: Replica, count: int = 1) -> None:
    """Wait until ``replica`` holds ``count`` polls (or more)."""
    wait_until(lambda: replica.server.stats().held >= count, f"{replica.name} to hold {count}")


def poll_once(replica: Replica, current_hash: str = "") -> Any:
    """One poll of ``replica`` that is not held: its ``PollResponse``."""
    with grpc.insecure_channel(replica.target) as channel:
        return poll(poll_pb2_grpc.PollConfigStub(channel), current_hash, timeout=TIMEOUT)


class Follower(NamedTuple):
    """A long-polling client of one replica (a ``GrpcPollSource``): what its hub published."""

    replica: str
    changes: Recorder[ConfigChange]
    statuses: Recorder[SourceStatus]

    def last_hash(self) -> str | None:
        """The hash of the last config the hub got."""
        return self.changes.items[-1].new_hash

    def wait_for_hash(self, config_hash: str) -> None:
        """Wait until the last config the hub got is the one of ``config_hash``."""
        wait_until(lambda: self.last_hash() == config_hash, f"{self.replica}'s client")


@contextlib.contextmanager
def followers(group: Sequence[Replica]) -> Iterator[list[Follower]]:
    """A hub long-polling each replica; the block starts once each has a config and is held."""
    with contextlib.ExitStack() as stack:
        made = []
        holding = [replica.server.stats().held + 1 for replica in group]
        for replica in group:
            hub = stack.enter_context(ConfigHub())
            changes, statuses = watch(hub)
            source = GrpcPollSource(
                replica.target,
                hub,
                hold=float(HOLD),
                interval=0.05,
                backoff_initial=0.05,
                backoff_max=0.2,
            )
            stack.enter_context(source)
            made.append(Follower(replica.name, changes, statuses))
        for replica, follower, count in zip(group, made, holding, strict=True):
            follower.changes.wait_for(bool, f"{replica.name}'s client to get a config")
            wait_holding(replica, count)
        yield made


def wait_followers(clients: Sequence[Follower], config_hash: str) -> None:
    """Wait until every client's hub holds the config of ``config_hash``."""
    for follower in clients:
        follower.wait_for_hash(config_hash)
