# SPDX-License-Identifier: MIT
"""The worker process: loads one backend once, then runs jobs sent over a pipe.

Started by `WorkerPool` with the multiprocessing *spawn* context, so it begins with a fresh
interpreter: torch/CUDA live here and never in the gateway. Messages (plain tuples):

  gateway → worker: ("run", dispatch_id, job_dict) | ("stop",)
  worker → gateway: ("ready", description_dict) | ("load_failed", message)
                    ("progress", dispatch_id, stage, step, total, fraction)
                    ("preview", dispatch_id, kind, artifact_dict, thumbnail_dict | None)
                    ("done", dispatch_id, result_dict) | ("canceled", dispatch_id)
                    ("error", dispatch_id, grpc_code_number, message)

Outputs and previews go straight into the content-addressed store (a shared directory); only
digests cross the pipe. Cancellation: the gateway writes the dispatch id into a shared integer,
and the reporter raises `GenerationCanceled` at the next `progress` call.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger("trellis2_server.worker")

# Progress messages closer together than this are dropped (stage changes always go through).
_PROGRESS_INTERVAL_S = 0.05

# google.rpc.Code numbers used in ("error", ...) messages.
_INVALID_ARGUMENT, _RESOURCE_EXHAUSTED, _INTERNAL = 3, 8, 13


def configure_gpu_runtime(data_dir: Path) -> None:
    """Keep Triton's compiled kernels and autotuning results under the data dir (and set the
    CUDA allocator's growable segments; both before torch initialises CUDA).

    A cold 1024 generation spends tens of seconds compiling and autotuning the sparse-conv
    kernels for each size class; with both cached on disk a restarted worker starts warm.
    Settings already in the environment win.
    """
    os.environ.setdefault("TRITON_CACHE_DIR", str(data_dir / "triton-cache"))
    os.environ.setdefault("TRITON_CACHE_AUTOTUNING", "1")
    # Voxel and face counts differ per job: growable segments keep what the caching allocator
    # reserves (what nvidia-smi shows) close to what is allocated, instead of fragmenting.
    os.environ.setdefault("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True")


def worker_main(
    conn: Connection,
    cancel_token: Any,
    name: str,
    backend_name: str,
    backend_options: dict[str, Any],
    artifacts_dir: str,
    device: str,
    threads: int,
    log_level: int = logging.INFO,
) -> None:
    """Entry point of the spawned process."""
    if threads > 0:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ[var] = str(threads)
    if device.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
        device = "cuda"
    logging.basicConfig(
        level=log_level,
        format=f"%(asctime)s {name} %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    configure_gpu_runtime(Path(artifacts_dir).parent)
    from trellis2_server.artifacts.store import ArtifactStore

    try:
        backend = _load_backend(backend_name, backend_options, device)
        description = _describe(backend, device)
    except BaseException as exc:
        _LOGGER.exception("backend %s failed to load", backend_name)
        conn.send(("load_failed", f"backend {backend_name!r} failed to load: {exc}"))
        return
    conn.send(("ready", description))
    store = ArtifactStore(Path(artifacts_dir))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return  # the gateway is gone
        if msg[0] == "stop":
            return
        if msg[0] == "run":
            try:
                _run_job(conn, cancel_token, backend, store, msg[1], msg[2])
            except (BrokenPipeError, EOFError, OSError):
                return  # the gateway went away while we reported


# Backend name → "module:class" built in the worker. Only the trellis2 backend takes arguments
# (weights, random_weights, low_vram, pipeline_types; the device is the worker's).
BACKEND_FACTORIES = {
    "preview": "trellis2.preview:PreviewBackend",
    "trellis2": "trellis2.generation.trellis2_backend:Trellis2Backend",
}


def _load_backend(backend_name: str, options: dict[str, Any], device: str) -> Any:
    """`backend_name` is a key of BACKEND_FACTORIES or a "module:class" path (tests)."""
    import importlib

    factory = BACKEND_FACTORIES.get(backend_name, backend_name)
    module_name, _, attr = factory.partition(":")
    if not attr:
        raise ValueError(f"unknown backend {backend_name!r}; use preview or trellis2")
    cls = getattr(importlib.import_module(module_name), attr)
    if backend_name == "trellis2":
        return cls(device=device, **options)
    return cls()


def _describe(backend: Any, device: str) -> dict[str, Any]:
    d = backend.describe()
    gpus = []
    torch = sys.modules.get("torch")
    if torch is not None and device.startswith("cuda") and torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append({"index": i, "name": props.name, "memory": int(props.total_memory)})
    return {
        "name": d.name,
        "models": list(d.models),
        "model_revision": d.model_revision,
        "random_weights": bool(d.random_weights),
        "pipeline_types": list(d.pipeline_types),
        "device": d.device,
        "gpus": gpus,
        "pid": os.getpid(),
    }


class _Reporter:
    """Turns backend callbacks into pipe messages; raises GenerationCanceled on request."""

    def __init__(self, conn: Connection, cancel_token: Any, dispatch: int, store: Any):
        from trellis2.generation.types import GenerationCanceled

        self._canceled_exc = GenerationCanceled
        self._conn, self._token, self._dispatch, self._store = conn, cancel_token, dispatch, store
        self._last_stage = ""
        self._last_sent = 0.0
        self._parent = os.getppid()

    def _check_cancel(self) -> None:
        if os.getppid() != self._parent:
            os._exit(0)  # the gateway died (e.g. SIGKILL): stop burning CPU on an orphan job
        if self._token.value == self._dispatch:
            raise self._canceled_exc("canceled by request")

    def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
        self._check_cancel()
        now = time.monotonic()
        if (
            stage != self._last_stage
            or step >= total
            or now - self._last_sent >= _PROGRESS_INTERVAL_S
        ):
            self._last_stage, self._last_sent = stage, now
            fraction = min(max(float(fraction), 0.0), 1.0)
            self._conn.send(("progress", self._dispatch, stage, int(step), int(total), fraction))

    def preview(self, kind: str, glb: bytes, thumbnail_png: bytes | None) -> None:
        self._check_cancel()
        art = self._store.put(glb, "model/gltf-binary")
        model = {
            "digest": art.digest,
            "size": art.size,
            "media_type": art.media_type,
            "filename": f"preview_{kind}.glb",
        }
        thumb = None
        if thumbnail_png:
            t = self._store.put(thumbnail_png, "image/png")
            thumb = {
                "digest": t.digest,
                "size": t.size,
                "media_type": t.media_type,
                "filename": f"preview_{kind}.png",
            }
        self._conn.send(("preview", self._dispatch, kind, model, thumb))


def _run_job(
    conn: Connection, token: Any, backend: Any, store: Any, dispatch: int, job: dict[str, Any]
) -> None:
    from PIL import Image

    from trellis2.generation.types import (
        ExportSettings,
        GenerationCanceled,
        GenerationParams,
    )

    job_id = job["job_id"]
    try:
        image: Image.Image = Image.open(store.path(job["image_digest"]))
        image.load()
        if image.mode not in ("RGB", "RGBA"):
            has_alpha = "A" in image.getbands() or "transparency" in image.info
            image = image.convert("RGBA" if has_alpha else "RGB")
        p = job["params"]
        params = GenerationParams(
            pipeline_type=p["pipeline_type"],
            seed=p["seed"],
            sparse_structure_sampler=p["sparse_structure_sampler"],
            shape_slat_sampler=p["shape_slat_sampler"],
            tex_slat_sampler=p["tex_slat_sampler"],
            export=ExportSettings(**p["export"]),
            display_name=p["display_name"],
            provenance=p["provenance"],
        )
        _LOGGER.info("job %s: start (dispatch %d)", job_id, dispatch)
        t0 = time.monotonic()
        asset = backend.generate(image, params, _Reporter(conn, token, dispatch, store))
        files = []
        for f in asset.files:
            art = store.put(f.data, f.media_type)
            files.append(
                {
                    "digest": art.digest,
                    "size": art.size,
                    "media_type": f.media_type,
                    "filename": f.name,
                    "kind": f.kind,
                }
            )
        result = {
            "files": files,
            "triangle_count": asset.triangle_count,
            "vertex_count": asset.vertex_count,
            "texture_count": asset.texture_count,
            "texture_size": asset.texture_size,
            "texture_format": asset.texture_format,
            "alpha_mode": asset.alpha_mode,
            "extent": list(asset.extent),
            "random_weights": bool(asset.random_weights),
        }
        _LOGGER.info("job %s: done in %.2f s", job_id, time.monotonic() - t0)
        conn.send(("done", dispatch, result))
    except GenerationCanceled:
        _LOGGER.info("job %s: canceled", job_id)
        conn.send(("canceled", dispatch))
    except MemoryError:
        _LOGGER.exception("job %s: out of memory", job_id)
        conn.send(("error", dispatch, _RESOURCE_EXHAUSTED, "the worker ran out of memory"))
    except Exception as exc:
        # The full traceback stays in the server log; the client gets the exception summary.
        _LOGGER.error("job %s failed:\n%s", job_id, traceback.format_exc())
        code = _INVALID_ARGUMENT if isinstance(exc, ValueError) else _INTERNAL
        conn.send(("error", dispatch, code, f"generation failed: {type(exc).__name__}: {exc}"))
