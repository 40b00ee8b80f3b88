# SPDX-License-Identifier: MIT
"""Overlap the export's geometry half with the texture stages of the same job.

After the shape decoder, a generation still samples the texture flow and runs the texture
decoder, while everything the export does to the mesh alone (hole filling, decimation, UV
charts, normals, the closest-point index; trellis2.postprocess.export_geometry) and the mesh
preview need only the decoded shape. `ExportPrefetch` runs that work in one worker thread, on
its own CUDA stream, while the caller's thread keeps sampling:

    prefetch = ExportPrefetch(settings, resolution, device)
    prefetch.start(mesh)                 # caller's thread, right after the shape decoder
    ...texture flow, texture decoder, assembly (fills the mesh's holes)...
    geometry = prefetch.take(final_mesh) # None → run the whole export as usual
    export_asset(..., geometry=geometry)
    prefetch.close()                     # always (error and cancel paths too)

Stream safety: the worker's stream first waits for an event recorded on the caller's stream at
`start` (the decoded mesh is complete), and the worker synchronises its own stream before its
future resolves, so results are ready for any stream after `take`. Tensors the worker
allocates and hands back are marked as used by the caller's stream (`record_stream`), so the
allocator does not give their memory to later side-stream work while the caller still reads it.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields, is_dataclass
from typing import Any

import torch

from trellis2 import perf
from trellis2.generation.types import ExportSettings
from trellis2.postprocess.export_geometry import ExportReport, PreparedGeometry, prepare_geometry

_LOGGER = logging.getLogger(__name__)

AABB = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
# Preview made from (vertices, faces) of the decoded mesh → (glb, png) or None.
PreviewMaker = Callable[[Any, Any], "tuple[bytes, bytes | None] | None"]


def _cuda_tensors(obj: Any, depth: int = 0) -> list[torch.Tensor]:
    """The CUDA tensors inside a result (tensors, containers, dataclasses, one object level)."""
    if isinstance(obj, torch.Tensor):
        return [obj] if obj.is_cuda else []
    if depth > 5:
        return []
    if isinstance(obj, (list, tuple)):
        items: list[Any] = list(obj)
    elif isinstance(obj, dict):
        items = list(obj.values())
    elif is_dataclass(obj):
        items = [getattr(obj, f.name) for f in fields(obj)]
    elif hasattr(obj, "__dict__"):
        items = list(vars(obj).values())
    else:
        return []
    return [t for item in items for t in _cuda_tensors(item, depth + 1)]


class ExportPrefetch:
    """One job's geometry half and mesh preview, made while the texture stages run."""

    def __init__(
        self,
        settings: ExportSettings,
        resolution: int,
        device: torch.device | str,
        make_preview: PreviewMaker | None = None,
    ) -> None:
        self.settings = settings
        self.resolution = int(resolution)
        self.device = torch.device(device)
        if self.device.type == "cuda" and self.device.index is None:  # match tensors' devices
            self.device = torch.device("cuda", torch.cuda.current_device())
        self.make_preview = make_preview
        self._pool: ThreadPoolExecutor | None = None
        self._future: Future[tuple[Any, Any, PreparedGeometry]] | None = None
        self._previews: list[tuple[str, bytes, bytes | None]] = []
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self.mismatch = False  # take() found the assembled mesh unlike the prefetched one
        # The worker's step timings in s (clean, decimate, on_decimated = the preview, ...).
        self.report = ExportReport()

    # ------------------------------------------------------------------ caller's thread
    def start(self, mesh: Any) -> None:
        """Begin on the decoded mesh (vertices [V, 3] / faces [F, 3] in [-0.5, 0.5]^3, Z-up).
        The mesh object is not changed; the worker fills holes on a copy taken here, because
        the pipeline's assembly later replaces the object's tensors (in place, as the
        reference does)."""
        if self._future is not None:
            raise RuntimeError("ExportPrefetch.start was already called for this job")
        mesh = copy.copy(mesh)
        opts = perf.current()
        caller_stream = event = None
        if self.device.type == "cuda":
            caller_stream = torch.cuda.current_stream(self.device)
            event = torch.cuda.Event()
            event.record(caller_stream)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="export-prefetch")
        self._future = self._pool.submit(self._work, mesh, opts, caller_stream, event)

    def pending_previews(self) -> list[tuple[str, bytes, bytes | None]]:
        """Previews the worker finished since the last call: (kind, glb, png) to send from the
        caller's thread (reporters need not be thread-safe)."""
        with self._lock:
            out, self._previews = self._previews, []
        return out

    def take(self, mesh: Any) -> PreparedGeometry | None:
        """Wait for the worker; its geometry when it was made from exactly this (assembled,
        hole-filled) mesh, else None (then the export runs whole, as without a prefetch)."""
        if self._future is None:
            return None
        try:
            filled_v, filled_f, geometry = self._future.result()
        except Exception as exc:  # the export will run whole and meet the problem itself
            self.error = exc
            _LOGGER.warning(
                "export prefetch failed (%s: %s); exporting in one go", type(exc).__name__, exc
            )
            return None
        v, f = torch.as_tensor(mesh.vertices), torch.as_tensor(mesh.faces)
        same = (
            filled_f.shape == f.shape
            and filled_v.shape == v.shape
            and torch.equal(filled_f.to(f.device, f.dtype), f)
            # Hole centroids are sums in float64 on the GPU: allow their last-bit noise.
            and torch.allclose(filled_v.to(v.device, v.dtype), v, rtol=0.0, atol=1e-6)
        )
        if not same:
            _LOGGER.warning(
                "the assembled mesh differs from the prefetched one; exporting in one go"
            )
            return None
        return geometry

    def close(self) -> None:
        """Wait for the worker to end (it holds device memory) and drop it. Never raises."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # ------------------------------------------------------------------ worker thread
    def _work(
        self,
        mesh: Any,
        opts: perf.PerfOptions,
        caller_stream: torch.cuda.Stream | None,
        event: torch.cuda.Event | None,
    ) -> tuple[Any, Any, PreparedGeometry]:
        side = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        with perf.use(opts), torch.no_grad():
            if side is None:
                return self._geometry(mesh)
            assert event is not None and caller_stream is not None
            with torch.cuda.stream(side):
                side.wait_event(event)
                out = self._geometry(mesh)
                side.synchronize()
            for t in _cuda_tensors(out):
                t.record_stream(caller_stream)
            return out

    def _post_preview(self, vertices: Any, faces: Any) -> None:
        assert self.make_preview is not None
        try:  # timed by prepare_geometry as its "on_decimated" step
            preview = self.make_preview(vertices, faces)
        except Exception:  # a preview must never fail the job
            _LOGGER.exception("mesh preview failed")
            preview = None
        if preview is not None:
            with self._lock:
                self._previews.append(("mesh", preview[0], preview[1]))

    def _geometry(self, mesh: Any) -> tuple[Any, Any, PreparedGeometry]:
        # The assembly (trellis2.pipelines.assemble.mesh_with_voxel) fills holes the same way.
        filled = mesh
        fill = getattr(filled, "fill_holes", None)
        if callable(fill):
            result = fill()
            if result is not None and hasattr(result, "faces"):
                filled = result
        s = self.settings
        # The preview is made from the decimated mesh: one decimation serves both.
        geometry = prepare_geometry(
            filled.vertices,
            filled.faces,
            AABB,
            grid_size=self.resolution,
            decimation_target=s.decimation_target,
            texture_size=s.texture_size,
            device=self.device,
            report=self.report,
            on_decimated=self._post_preview if self.make_preview is not None else None,
        )
        return filled.vertices, filled.faces, geometry
