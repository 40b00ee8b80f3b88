# SPDX-License-Identifier: MIT
"""Assembles and runs the server: core service, grpc.aio listener (health, reflection) and,
when available, the Connect/HTTP listener in the same process and event loop.

HTTP hook: `run_server`/`start_server` call `http_starter(service, config)`, by default a
wrapper of `trellis2_server.http.start_http_server`. A starter binds `config.http_port`
(0 = any free port) and returns `(bound_port, stop)` where `await stop()` shuts it down.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc
from trellis2_server.api.grpc import AssetGenerationServicer
from trellis2_server.config import MIB, ServerConfig
from trellis2_server.core.service import AssetService

_LOGGER = logging.getLogger(__name__)
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AssetGenerationService"].full_name
HttpStop = Callable[[], Awaitable[None]]
HttpStarter = Callable[[AssetService, ServerConfig], Awaitable[tuple[int, HttpStop]]]


async def create_server(config: ServerConfig, service: AssetService) -> tuple[grpc.aio.Server, int]:
    """A grpc.aio server bound to `config.grpc_port` (0 = free port), not started yet. Health
    reports NOT_SERVING until the service's backend has loaded."""
    server = grpc.aio.server(
        options=[
            # Room for the largest accepted image plus the other request fields; larger
            # messages are refused by gRPC itself (RESOURCE_EXHAUSTED).
            ("grpc.max_receive_message_length", config.max_upload_bytes + MIB),
            ("grpc.max_send_message_length", 4 * MIB),
            ("grpc.keepalive_time_ms", 30_000),
            ("grpc.keepalive_timeout_ms", 10_000),
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.keepalive_permit_without_calls", 1),
        ]
    )
    pb_grpc.add_AssetGenerationServiceServicer_to_server(AssetGenerationServicer(service), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ("", SERVICE_NAME):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)

    async def serving() -> None:
        for name in ("", SERVICE_NAME):
            await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)

    service.on_ready(serving)
    server.health_servicer = health_servicer
    reflection.enable_server_reflection(
        (SERVICE_NAME, health.SERVICE_NAME, reflection.SERVICE_NAME), server
    )
    address = f"{config.host}:{config.grpc_port}"
    try:
        port = server.add_insecure_port(address)
    except RuntimeError:
        port = 0
    if port == 0:
        raise OSError(f"could not listen for gRPC on {address} (in use?); pick another --grpc-port")
    return server, port


@dataclass
class RunningServer:
    config: ServerConfig
    service: AssetService
    grpc_server: grpc.aio.Server
    grpc_port: int
    http_port: int | None
    http_stop: HttpStop | None

    async def stop(self, grace: float | None = None) -> None:
        """Graceful stop: NOT_SERVING, refuse new jobs, finish or requeue running work within
        the grace period, then close the listeners and the store."""
        grace = self.config.grace_period if grace is None else grace
        await self.grpc_server.health_servicer.enter_graceful_shutdown()
        await self.service.stop(grace)
        if self.http_stop is not None:
            await self.http_stop()
        await self.grpc_server.stop(1.0)
        self.service.close()


def _default_http_starter() -> HttpStarter | None:
    """The Connect/HTTP listener from `trellis2_server.http`, if that package is installed."""
    try:
        from trellis2_server.http import start_http_server
    except ImportError as exc:
        _LOGGER.warning("HTTP/Connect transport unavailable (%s)", exc)
        return None

    async def start(service: AssetService, config: ServerConfig) -> tuple[int, HttpStop]:
        http = await start_http_server(
            service,
            host=config.host,
            port=config.http_port,
            max_upload_bytes=config.max_upload_bytes,
        )
        return http.port, http.stop

    return start


async def start_server(
    config: ServerConfig,
    *,
    http_starter: HttpStarter | None = None,
    backend_factory: str | None = None,
) -> RunningServer:
    """Starts the service, the gRPC listener and (if `config.http_port` >= 0) HTTP."""
    service = AssetService(config, backend_factory=backend_factory)
    grpc_server, port = await create_server(config, service)
    await service.start()
    await grpc_server.start()
    http_port, http_stop = None, None
    if config.http_port >= 0:
        starter = http_starter or _default_http_starter()
        if starter is None:
            _LOGGER.warning("HTTP/Connect transport not installed; serving gRPC only")
        else:
            http_port, http_stop = await starter(service, config)
    return RunningServer(config, service, grpc_server, port, http_port, http_stop)


async def run_server(
    config: ServerConfig,
    *,
    http_starter: HttpStarter | None = None,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Runs until SIGTERM/SIGINT (or `stop_event`), then stops gracefully."""
    stop_event = stop_event or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop_event.set)
    running = await start_server(config, http_starter=http_starter)
    svc = running.service
    http = f", http {config.host}:{running.http_port}" if running.http_port is not None else ""
    print(
        f"trellis2 server: backend {svc.backend_name} ({svc.backend_reason})\n"
        f"trellis2 server: listening on grpc {config.host}:{running.grpc_port}{http}; "
        f"data in {config.data_dir}",
        flush=True,
    )
    print(f"grpc_port={running.grpc_port}", flush=True)
    try:
        await stop_event.wait()
    finally:
        print("trellis2 server: stopping (finishing or requeueing running jobs)", file=sys.stderr)
        await running.stop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def serve(config: ServerConfig) -> None:
    asyncio.run(run_server(config))
