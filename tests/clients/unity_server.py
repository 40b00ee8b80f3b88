# SPDX-License-Identifier: MIT
"""A real Trellis2 server for the Unity client's end-to-end tests: `trellis2 serve` with the
preview backend on 127.0.0.1, HTTP/Connect on a free port, in its own process group.

Run as a script (`python unity_server.py --data-dir D [--backend-factory mod:Class]`) it starts
the server in-process and prints `http_port=N` once both listeners are bound; the factory
option exists for debugging against a backend test double and is not used by the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class UnityTestServer:
    """Starts this file as a subprocess and waits until the backend serves jobs."""

    def __init__(
        self,
        data_dir: Path,
        *,
        heartbeat: float = 0.5,
        factory: str | None = None,
        api_keys_file: Path | None = None,
        max_queue_depth: int | None = None,
    ):
        self.data_dir = data_dir
        self.api_keys_file = api_keys_file
        self.max_queue_depth = max_queue_depth
        self.heartbeat = heartbeat
        self.factory = factory
        self.log_path = data_dir.parent / f"{data_dir.name}-server.log"
        self.proc: subprocess.Popen[str] | None = None
        self.http_port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 90.0) -> UnityTestServer:
        args = [sys.executable, __file__, "--data-dir", str(self.data_dir),
                "--heartbeat", str(self.heartbeat)]  # fmt: skip
        if self.factory:
            args += ["--backend-factory", self.factory]
        if self.api_keys_file:
            args += ["--api-keys-file", str(self.api_keys_file)]
        if self.max_queue_depth:
            args += ["--max-queue-depth", str(self.max_queue_depth)]
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
        env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "tests" / "server"), env.get("PYTHONPATH", "")]
        )
        log = open(self.log_path, "a")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=log, text=True, env=env, start_new_session=True
        )
        log.close()
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            if line.startswith("http_port="):
                self.http_port = int(line.strip().split("=", 1)[1])
                break
            if time.monotonic() > deadline:
                break
        if not self.http_port:
            self.stop()
            raise RuntimeError(f"server did not start; log:\n{self.log()}")
        self._wait_ready(deadline)
        return self

    def _wait_ready(self, deadline: float) -> None:
        # GetServerInfo answers before the backend loads; the line below is printed after.
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ready"):
                return
            if time.monotonic() > deadline:
                break
        self.stop()
        raise RuntimeError(f"backend did not load; log:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None:
            return
        # Imported here: this file also runs as a script, where tests/ is not on sys.path.
        from process_utils import stop_process_group

        stop_process_group(self.proc)


async def _serve(args: argparse.Namespace) -> None:
    from trellis2_server.config import ServerConfig
    from trellis2_server.server import start_server

    config = ServerConfig.from_env_and_args(
        {
            "data_dir": args.data_dir,
            "host": "127.0.0.1",
            "grpc_port": 0,
            "http_port": 0,
            "backend": "preview",
            "workers": 1,
            "heartbeat_interval": args.heartbeat,
            "grace_period": 2.0,
            "api_keys_file": args.api_keys_file,
            "max_queue_depth": args.max_queue_depth,
        }
    )
    running = await start_server(config, backend_factory=args.backend_factory)
    print(f"http_port={running.http_port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await running.service.wait_ready(120.0)
        print("ready", flush=True)
    except Exception as exc:
        print(f"backend failed: {exc}", file=sys.stderr, flush=True)
        stop.set()
    await stop.wait()
    await running.stop(2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--heartbeat", type=float, default=0.5)
    parser.add_argument("--backend-factory", default=None)
    parser.add_argument("--api-keys-file", type=Path, default=None)
    parser.add_argument("--max-queue-depth", type=int, default=None)
    args = parser.parse_args()
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
