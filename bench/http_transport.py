# SPDX-License-Identifier: MIT
"""HTTP/Connect transport on loopback: unary latency (JSON / binary), submit → first event over
a Connect stream, and artifact download throughput (plain GET with Range support vs Connect
FetchArtifact streams vs native gRPC). Starts a real `trellis2 serve` (preview backend, one
worker) and prints one table.

    .venv/bin/python bench/http_transport.py [--calls 200] [--jobs 10] [--mib 64]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import grpc
import httpx
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2 as pb
from trellis2_server.api._gen.trellis2.v1 import asset_generation_pb2_grpc as pb_grpc
from trellis2_server.artifacts.store import ArtifactStore

SERVICE = "/trellis2.v1.AssetGenerationService/"
REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envelope(payload: bytes) -> bytes:
    return struct.pack(">BI", 0, len(payload)) + payload


def quantiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


async def fan_out(base: str, image_b64: str, watchers: int) -> list[float]:
    """Opens `watchers` WatchJob streams on one job; returns, per stream, how long after the
    server stored the completed event (its timestamp) the stream delivered it, in ms."""
    limits = httpx.Limits(max_connections=watchers + 8)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        request = {
            "image": image_b64, "seed": "4242", "pipelineType": "PIPELINE_TYPE_512",
            "exportOptions": {"textureSize": 256, "decimationTarget": 2000},
        }  # fmt: skip
        job = (await client.post(SERVICE + "CreateJob", json=request)).json()
        body = envelope(json.dumps({"name": job["name"]}).encode())

        async def watch() -> float:
            async with client.stream(
                "POST", SERVICE + "WatchJob", content=body,
                headers={"content-type": "application/connect+json"},
            ) as response:  # fmt: skip
                buf = b""
                async for chunk in response.aiter_raw():
                    buf += chunk
                    while len(buf) >= 5:
                        _flags, length = struct.unpack(">BI", buf[:5])
                        if len(buf) < 5 + length:
                            break
                        event, buf = json.loads(buf[5 : 5 + length] or b"{}"), buf[5 + length :]
                        if "completed" in event:
                            stored = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
                            return (time.time() - stored.timestamp()) * 1000
            raise RuntimeError("stream ended without a completed event")

        return list(await asyncio.gather(*(watch() for _ in range(watchers))))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--jobs", type=int, default=10)
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--watchers", type=int, default=100, help="concurrent streams; 0 skips")
    args = p.parse_args()

    data = Path(tempfile.mkdtemp(prefix="bench-http-")) / "data"
    http_port, grpc_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "trellis2_server.cli", "serve", "--data-dir", str(data),
         "--host", "127.0.0.1", "--http-port", str(http_port), "--grpc-port", str(grpc_port),
         "--backend", "preview", "--workers", "1", "--worker-threads", "1",
         "--log-level", "WARNING"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )  # fmt: skip
    base = f"http://127.0.0.1:{http_port}"
    rows: list[tuple[str, str, str]] = []
    try:
        client = httpx.Client(base_url=base, timeout=60)
        deadline = time.monotonic() + 120
        while True:
            try:
                info = client.post(SERVICE + "GetServerInfo", json={}).json()
                if any(b.get("loaded") for b in info.get("backends", [])):
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("server did not load its backend in 120 s")
            time.sleep(0.2)

        def unary_latency(name: str, call) -> None:  # type: ignore[no-untyped-def]
            for _ in range(10):
                call()
            samples = []
            for _ in range(args.calls):
                t = time.perf_counter()
                call()
                samples.append((time.perf_counter() - t) * 1000)
            med, p90 = quantiles(samples)
            rows.append((name, f"{med:.2f} ms", f"{p90:.2f} ms"))

        unary_latency(
            "GetServerInfo, JSON (keep-alive)",
            lambda: client.post(SERVICE + "GetServerInfo", json={}).raise_for_status(),
        )
        proto_headers = {"content-type": "application/proto"}
        unary_latency(
            "GetServerInfo, binary",
            lambda: client.post(
                SERVICE + "GetServerInfo", content=b"", headers=proto_headers
            ).raise_for_status(),
        )

        image = (REPO.parent / "shared" / "images" / "apple.png").read_bytes()
        b64 = base64.b64encode(image).decode()
        first_event = []
        for i in range(args.jobs):
            request = {
                "image": b64, "seed": str(1000 + i), "pipelineType": "PIPELINE_TYPE_512",
                "exportOptions": {"textureSize": 256, "decimationTarget": 2000},
            }  # fmt: skip
            t = time.perf_counter()
            with client.stream(
                "POST",
                SERVICE + "GenerateAsset",
                content=envelope(json.dumps({"job": request}).encode()),
                headers={"content-type": "application/connect+json"},
            ) as response:
                for _ in response.iter_raw():
                    first_event.append((time.perf_counter() - t) * 1000)
                    break
        med, p90 = quantiles(first_event)
        rows.append(
            (f"GenerateAsset → first event (533 px PNG, {len(image) // 1024} KB)",
             f"{med:.1f} ms", f"{p90:.1f} ms")
        )  # fmt: skip

        if args.watchers:
            delays = asyncio.run(fan_out(base, b64, args.watchers))
            med, p90 = quantiles(delays)
            rows.append(
                (f"{args.watchers} concurrent WatchJob streams: completed event stored → received",
                 f"{med:.1f} ms", f"{p90:.1f} ms (max {max(delays):.1f})")
            )  # fmt: skip

        blob = os.urandom(args.mib * 1024 * 1024)
        digest = ArtifactStore(data / "artifacts").put(blob, "model/gltf-binary").digest
        size_mb = len(blob) / 1e6

        def throughput(name: str, fetch) -> None:  # type: ignore[no-untyped-def]
            best = 0.0
            for _ in range(3):
                t = time.perf_counter()
                got = fetch()
                elapsed = time.perf_counter() - t
                assert hashlib.sha256(got).hexdigest() == digest, name
                best = max(best, size_mb / elapsed)
            rows.append((f"{name}, {args.mib} MiB", f"{best:.0f} MB/s", "best of 3"))

        url = f"{base}/v1/artifacts/{digest}"
        throughput("GET /v1/artifacts (httpx client)", lambda: client.get(url).content)
        if shutil.which("curl"):
            # A native client discarding the bytes: what the server can push (the pure-Python
            # httpx client above is the slow end; its copy was verified against the digest).
            def curl() -> None:
                subprocess.run(["curl", "-sfo", os.devnull, url], check=True)

            best = 0.0
            for _ in range(3):
                t = time.perf_counter()
                curl()
                best = max(best, size_mb / (time.perf_counter() - t))
            rows.append((f"GET /v1/artifacts (curl > /dev/null), {args.mib} MiB",
                         f"{best:.0f} MB/s", "best of 3"))  # fmt: skip

        def connect_fetch(binary: bool) -> bytes:
            ctype = "application/connect+proto" if binary else "application/connect+json"
            msg = pb.FetchArtifactRequest(digest=digest)
            payload = msg.SerializeToString() if binary else json.dumps({"digest": digest})
            payload = payload if isinstance(payload, bytes) else payload.encode()
            parts = []
            with client.stream(
                "POST", SERVICE + "FetchArtifact", content=envelope(payload),
                headers={"content-type": ctype},
            ) as response:  # fmt: skip
                buf = b"".join(response.iter_bytes())
            at = 0
            while at < len(buf):
                flags, length = struct.unpack(">BI", buf[at : at + 5])
                body = buf[at + 5 : at + 5 + length]
                at += 5 + length
                if flags & 0x02:
                    break
                if binary:
                    parts.append(pb.FetchArtifactResponse.FromString(body).data)
                else:
                    parts.append(base64.b64decode(json.loads(body).get("data", "")))
            return b"".join(parts)

        throughput("Connect FetchArtifact, binary (httpx)", lambda: connect_fetch(True))
        throughput("Connect FetchArtifact, JSON/base64 (httpx)", lambda: connect_fetch(False))
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            stub = pb_grpc.AssetGenerationServiceStub(channel)
            throughput(
                "gRPC FetchArtifact (for comparison)",
                lambda: b"".join(
                    c.data for c in stub.FetchArtifact(pb.FetchArtifactRequest(digest=digest))
                ),
            )
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    width = max(len(r[0]) for r in rows)
    print(f"{'measure'.ljust(width)} | median / value | p90")
    for name, a, b in rows:
        print(f"{name.ljust(width)} | {a} | {b}")


if __name__ == "__main__":
    main()
