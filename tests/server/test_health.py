"""The gRPC health service, asked over a real channel of a real ``grpc.aio`` server."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from confighub.server._health import SERVICES, Health

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
POLL = "deepproto.proto.poll.v1.PollConfig"
SNAPSHOTS = "deepproto.proto.tracepoint.v1.SnapshotService"


def served(scenario: Callable[[Health, Any], Awaitable[None]]) -> None:
    """Run ``scenario(health, stub)`` against a grpc.aio server on 127.0.0.1, port 0."""

    async def run() -> None:
        health = Health()
        server = grpc.aio.server()
        health.add_to(server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                await scenario(health, health_pb2_grpc.HealthStub(channel))
        finally:
            await server.stop(None)

    asyncio.run(run())


async def status(stub: Any, service: str) -> Any:
    """The status ``Health.Check`` answers for ``service``, or the call's error code."""
    try:
        answer = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)
    except grpc.aio.AioRpcError as err:
        return err.code()
    return answer.status


def test_the_server_and_its_deep_services_are_told_serving_then_not() -> None:
    """After ``serving()`` every service is SERVING; after ``not_serving()`` NOT_SERVING."""
    seen: list[list[Any]] = []

    async def scenario(health: Health, stub: Any) -> None:
        await health.serving()
        seen.append([await status(stub, service) for service in SERVICES])
        await health.not_serving()
        seen.append([await status(stub, service) for service in SERVICES])
        await health.serving()
        seen.append([await status(stub, service) for service in SERVICES])

    served(scenario)
    assert SERVICES == ("", POLL, SNAPSHOTS)
    assert seen == [[SERVING] * 3, [NOT_SERVING] * 3, [SERVING] * 3]


def test_an_unknown_service_is_not_found() -> None:
    """A service the server does not serve is NOT_FOUND, as the health protocol says."""
    seen: list[Any] = []

    async def scenario(health: Health, stub: Any) -> None:
        await health.serving()
        seen.append(await status(stub, "deepproto.proto.nothing.v1.Nothing"))

    served(scenario)
    assert seen == [grpc.StatusCode.NOT_FOUND]


def test_before_serving_only_the_whole_server_has_a_status() -> None:
    """Until ``serving()`` the server answers SERVING for "" and NOT_FOUND for the Deep services."""
    seen: list[Any] = []

    async def scenario(health: Health, stub: Any) -> None:
        seen.extend([await status(stub, service) for service in SERVICES])

    served(scenario)
    assert seen == [SERVING, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.NOT_FOUND]


def test_not_serving_for_good_outlasts_a_later_serving() -> None:
    """A stopping server stays NOT_SERVING: ``serving()`` after ``for_good`` changes nothing."""
    seen: list[Any] = []

    async def scenario(health: Health, stub: Any) -> None:
        await health.serving()
        await health.not_serving(for_good=True)
        await health.serving()
        seen.extend([await status(stub, service) for service in SERVICES])

    served(scenario)
    assert seen == [NOT_SERVING] * 3
