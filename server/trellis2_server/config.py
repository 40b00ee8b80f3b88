# SPDX-License-Identifier: MIT
"""Server configuration: one frozen object, built once from flags and `TRELLIS2_*` variables.

Every limit has a name, a default, a flag (`--max-upload-bytes`) and an environment variable
(`TRELLIS2_MAX_UPLOAD_BYTES`). Flags win over the environment. Nothing reads `os.environ` after
`ServerConfig.from_env_and_args()` returns.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

BackendChoice = Literal["auto", "preview", "trellis2"]
_BACKENDS = ("auto", "preview", "trellis2")
GpuMemoryChoice = Literal["auto", "resident", "low_vram"]
_GPU_MEMORY = ("auto", "resident", "low_vram")
_PIPELINE_TYPES = ("512", "1024", "1024_cascade", "1536_cascade")
_ENV_PREFIX = "TRELLIS2_"
MIB = 1024 * 1024


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path = Path("data")
    """Where the SQLite job store (`jobs.sqlite3`) and the artifact store (`artifacts/`) live."""

    host: str = "0.0.0.0"
    """Interface both listeners bind to (use 127.0.0.1 to stay local)."""

    grpc_port: int = 50051
    """Native gRPC (HTTP/2) port; 0 picks a free port."""

    http_port: int = 8080
    """Connect/HTTP 1.1 port for engine clients and the dashboard; 0 picks one, -1 disables."""

    backend: BackendChoice = "auto"
    """`auto` = trellis2 when a CUDA GPU and weights are present, else preview."""

    weights_dir: Path | None = None
    """Folder holding the TRELLIS.2 checkpoints (needed by the trellis2 backend)."""

    random_weights: bool = False
    """trellis2 backend only: full-size networks with random weights, for benchmarks (the
    outputs are noise, and ServerInfo and every asset say so)."""

    gpu_memory: GpuMemoryChoice = "auto"
    """trellis2 backend only: `resident` keeps every network on the GPU (fastest), `low_vram`
    moves each network in for its stage and out after (the official default, ~10 GB at 1024),
    `auto` = resident when the weights plus a 1536 working set fit the GPU's free memory."""

    pipeline_types: str = ""
    """trellis2 backend only: comma list of the pipeline types to load networks for (512, 1024,
    1024_cascade, 1536_cascade); empty = all. Fewer types, less GPU memory: jobs asking for
    another type are refused with FAILED_PRECONDITION."""

    workers: int = 0
    """Worker processes; 0 = one per GPU, or 1 on a machine without GPUs."""

    worker_threads: int = 0
    """CPU threads per worker (OMP/torch); 0 = cores divided by workers."""

    api_keys_file: Path | None = None
    """Text file of `<api key> <team>` lines; when set, every call needs `Bearer <key>`."""

    max_upload_bytes: int = 20 * MIB
    """Largest accepted input image, in bytes."""

    max_image_pixels: int = 40_000_000
    """Largest accepted width x height (guards against decompression bombs)."""

    max_image_side: int = 8192
    """Largest accepted image width or height, in pixels."""

    max_queue_depth: int = 256
    """Queued jobs beyond this are refused with RESOURCE_EXHAUSTED."""

    per_team_concurrency: int = 0
    """Jobs of one team running at the same time; 0 = no limit."""

    max_texture_size: int = 8192
    """Largest texture edge a client may ask for (power of two)."""

    max_decimation_target: int = 2_000_000
    """Largest triangle budget a client may ask for."""

    chunk_size: int = 1 * MIB
    """FetchArtifact chunk size in bytes (well under gRPC's 4 MiB default message limit)."""

    heartbeat_interval: float = 10.0
    """Seconds of silence on a watch stream before a Heartbeat event is sent."""

    job_timeout: float = 1800.0
    """Seconds one attempt may run before it is stopped and the job fails DEADLINE_EXCEEDED."""

    lease_duration: float = 30.0
    """Seconds a running job's lease lasts without renewal before the job is requeued."""

    max_attempts: int = 3
    """Runs per job; a job whose worker crashed this many times fails instead of requeueing."""

    grace_period: float = 30.0
    """Seconds a graceful stop (SIGTERM) waits for running jobs before requeueing them."""

    worker_start_timeout: float = 600.0
    """Seconds a worker may take to load its backend before it counts as failed."""

    def __post_init__(self) -> None:
        problems = []
        if self.backend not in _BACKENDS:
            problems.append(f"backend must be one of {', '.join(_BACKENDS)}")
        unknown = [t for t in self.pipeline_type_list if t not in _PIPELINE_TYPES]
        if unknown:
            problems.append(
                f"pipeline_types: unknown {', '.join(unknown)}; use {', '.join(_PIPELINE_TYPES)}"
            )
        if self.gpu_memory not in _GPU_MEMORY:
            problems.append(f"gpu_memory must be one of {', '.join(_GPU_MEMORY)}")
        for name in ("grpc_port",):
            if not 0 <= getattr(self, name) <= 65535:
                problems.append(f"{name} must be 0..65535")
        if not -1 <= self.http_port <= 65535:
            problems.append("http_port must be -1 (off) or 0..65535")
        positive = [
            "max_upload_bytes",
            "max_image_pixels",
            "max_image_side",
            "max_queue_depth",
            "max_texture_size",
            "max_decimation_target",
            "chunk_size",
            "heartbeat_interval",
            "job_timeout",
            "lease_duration",
            "max_attempts",
            "worker_start_timeout",
        ]
        for name in positive:
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        for name in ("workers", "worker_threads", "per_team_concurrency", "grace_period"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0")
        if self.chunk_size > 4 * MIB - 64 * 1024:
            problems.append("chunk_size must stay well under gRPC's 4 MiB message limit")
        if problems:
            raise ValueError("invalid server configuration: " + "; ".join(problems))

    @property
    def pipeline_type_list(self) -> list[str]:
        return [t.strip() for t in self.pipeline_types.split(",") if t.strip()]

    @property
    def db_path(self) -> Path:
        return self.data_dir / "jobs.sqlite3"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    def replace(self, **changes: Any) -> ServerConfig:
        return dataclasses.replace(self, **changes)

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        """Adds one `--flag` per field (default None, so unset flags fall back to env/default)."""
        docs = _field_docs()
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            env = _ENV_PREFIX + f.name.upper()
            parser.add_argument(
                flag,
                dest=f.name,
                default=None,
                metavar=f.name.upper(),
                help=f"{docs.get(f.name, '')} (env {env}; default {f.default})",
            )

    @classmethod
    def from_env_and_args(
        cls,
        args: argparse.Namespace | Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> ServerConfig:
        """Flags (non-None values in `args`) win over `TRELLIS2_<NAME>` variables."""
        env = os.environ if environ is None else environ
        given = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = given.get(f.name)
            source = f"--{f.name.replace('_', '-')}"
            if raw is None:
                raw = env.get(_ENV_PREFIX + f.name.upper())
                source = _ENV_PREFIX + f.name.upper()
            if raw is None:
                continue
            try:
                values[f.name] = _parse(f.name, f.type, raw)
            except ValueError as exc:
                raise ValueError(f"{source}: {exc}") from None
        return cls(**values)


def _parse(name: str, type_name: Any, raw: Any) -> Any:
    if not isinstance(raw, str):
        return raw
    text = str(type_name)
    if "Path" in text:
        return Path(raw) if raw else None
    if text == "int":
        return int(raw.replace("_", ""))
    if text == "float":
        return float(raw)
    if text == "bool":
        if raw.lower() in ("1", "true", "yes", "on"):
            return True
        if raw.lower() in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"expected true or false, got {raw!r}")
    return raw


def _field_docs() -> dict[str, str]:
    """Reads the attribute docstrings above so `--help` shows them."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(ServerConfig))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for prev, node in itertools.pairwise(body):
        if (
            isinstance(prev, ast.AnnAssign)
            and isinstance(prev.target, ast.Name)
            and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            docs[prev.target.id] = node.value.value
    return docs


def parse_sequence(values: Sequence[str]) -> ServerConfig:
    """Builds a config from command-line style flags only (tests and the embedded CLI server)."""
    parser = argparse.ArgumentParser(add_help=False)
    ServerConfig.add_arguments(parser)
    return ServerConfig.from_env_and_args(parser.parse_args(list(values)), environ={})
