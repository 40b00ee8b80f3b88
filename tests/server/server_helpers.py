# SPDX-License-Identifier: MIT
"""Helpers shared by the server tests: a `trellis2 serve` subprocess, small inputs, event
collection. (Kept out of conftest.py so tests can import them by a unique module name.)"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image, ImageDraw
from process_utils import stop_process_group
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc

# Small outputs keep one preview job around a second on two cores.
SMALL_EXPORT = {"texture_size": 256, "decimation_target": 2000}
TERMINAL = ("completed", "failed", "canceled")


class ServerProcess:
    """`python -m trellis2_server.cli serve` in its own process group."""

    def __init__(self, data_dir: Path, *flags: str, log: Path | None = None):
        self.data_dir = data_dir
        self.flags = flags
        self.log_path = log or data_dir.parent / f"{data_dir.name}-server.log"
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        args = [
            sys.executable, "-m", "trellis2_server.cli", "serve",
            "--data-dir", str(self.data_dir), "--host", "127.0.0.1", "--grpc-port", "0",
            "--http-port", "-1", "--backend", "preview", "--workers", "1",
            *self.flags,
        ]  # fmt: skip
        log = open(self.log_path, "a")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, text=True, env=env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("grpc_port="):
                self.port = int(line.strip().split("=", 1)[1])
                break
            if time.monotonic() > deadline:
                break
        if not self.port:
            self.kill()
            raise RuntimeError(f"server did not start; log:\n{self.log_path.read_text()[-3000:]}")
        return self

    def wait_serving(self, timeout: float = 60.0) -> None:
        with grpc.insecure_channel(self.address) as ch:
            stub = health_pb2_grpc.HealthStub(ch)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                resp = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
                if resp.status == health_pb2.HealthCheckResponse.SERVING:
                    return
                time.sleep(0.05)
        raise TimeoutError(f"not SERVING after {timeout} s; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:]

    def kill(self) -> None:
        """SIGKILL the gateway only (its workers notice the closed pipe and exit)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (graceful), then make sure the whole process group is gone."""
        if self.proc is None:
            return
        stop_process_group(self.proc)


def make_png(size: int = 96, color: str = "orange", mode: str = "RGBA") -> bytes:
    """A filled disc on a transparent background: a real silhouette for the preview backend."""
    im = Image.new(mode, (size, size), (0, 0, 0, 0) if mode == "RGBA" else "white")
    ImageDraw.Draw(im).ellipse((size // 8, size // 8, size * 7 // 8, size * 7 // 8), fill=color)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def job_request(image: bytes, **fields: object) -> pb.CreateJobRequest:
    export = dict(SMALL_EXPORT)
    export.update(fields.pop("export", {}))  # type: ignore[call-overload]
    fields.setdefault("pipeline_type", pb.PIPELINE_TYPE_512)
    return pb.CreateJobRequest(image=image, export_options=pb.ExportOptions(**export), **fields)


async def collect(stub: pb_grpc.AssetGenerationServiceStub, name: str, after_seq: int = 0):
    """All non-heartbeat events of a job up to its terminal event."""
    events = []
    async for ev in stub.WatchJob(pb.WatchJobRequest(name=name, after_seq=after_seq)):
        if ev.WhichOneof("event") == "heartbeat":
            continue
        events.append(ev)
    return events
