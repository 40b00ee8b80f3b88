# SPDX-License-Identifier: MIT
"""The `trellis2` backend: the real TRELLIS.2 pipeline behind the `Backend` contract.

Weights: a local folder in the official layout or a hub id (`weights=`, else the env var
TRELLIS2_WEIGHTS, else microsoft/TRELLIS.2-4B). `weights="random"` (or `random_weights=True`,
or TRELLIS2_RANDOM_WEIGHTS=1) builds the full-size networks with random weights: benchmarks
only, every asset is flagged `random_weights` and a warning is logged per job.

GPU memory: `low_vram=None` (auto) keeps every network resident on the GPU when the weights
plus `RESIDENT_HEADROOM_BYTES` of working memory fit its free memory, else moves each network
in for its stage (the official low-VRAM mode); True/False force one. Resident when it does not
fit comfortably (`low_vram=False` on a small card) parks the image encoder in pinned host
memory (1.13 GiB, ~0.05 s per job) and turns the export overlap off. `pipeline_types` loads
only the networks those types need (less memory; other types are refused).

Overlap: unless low-VRAM mode or `perf.current().overlap_export` is off, the export's geometry
half and the mesh preview start on a side stream right after the shape decoder and run while
the texture flow and decoder sample (trellis2.generation.export_prefetch).

Progress: every sampler step of every stage, plus the non-iterative stages and the export
steps, with a whole-job fraction from fixed stage weights. Previews: the sparse structure as
voxel boxes, then the decoded untextured mesh (GLB + PNG thumbnail each).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from typing import Any

import torch
from PIL import Image

from trellis2 import perf
from trellis2.generation.export_prefetch import ExportPrefetch
from trellis2.generation.types import (
    BackendDescription,
    GeneratedAsset,
    GenerationParams,
    ProgressReporter,
)

_LOGGER = logging.getLogger(__name__)

DEFAULT_WEIGHTS = "microsoft/TRELLIS.2-4B"
PIPELINE_TYPES = ("512", "1024", "1024_cascade", "1536_cascade")
# Working memory a job needs beyond resident weights, by its largest loaded pipeline type:
# about twice the measured peak above the weights with the overlapped export (H100, random
# weights, bench/RESULTS.md: 1.5 / 3.5 / 6.9 GiB), for allocator slack and real meshes.
RESIDENT_HEADROOM_BYTES = {"512": 4 << 30, "1024": 8 << 30, "1024_cascade": 8 << 30,
                           "1536_cascade": 14 << 30}  # fmt: skip

# Relative cost of each stage for the whole-job fraction (sampling dominates; export is
# CPU-heavy). Stages missing from a pipeline type are skipped.
_STAGE_WEIGHTS = {
    "preprocess": 1.0,
    "cond": 1.0,
    "sparse_structure": 4.0,
    "shape_slat": 6.0,
    "shape_slat_lr": 3.0,
    "shape_slat_hr": 6.0,
    "decode_shape": 2.0,
    "tex_slat": 4.0,
    "decode_tex": 1.0,
    "export": 6.0,
}


def _stages(pipeline_type: str) -> list[str]:
    shape = ["shape_slat_lr", "shape_slat_hr"] if "cascade" in pipeline_type else ["shape_slat"]
    return [
        "preprocess",
        "cond",
        "sparse_structure",
        *shape,
        "decode_shape",
        "tex_slat",
        "decode_tex",
        "export",
    ]


class JobProgress:
    """Maps (stage, step, total) to a whole-job fraction and forwards it to the reporter."""

    def __init__(self, reporter: ProgressReporter, pipeline_type: str) -> None:
        self.reporter = reporter
        stages = _stages(pipeline_type)
        total = sum(_STAGE_WEIGHTS[s] for s in stages)
        self._start: dict[str, float] = {}
        acc = 0.0
        for s in stages:
            self._start[s] = acc / total
            acc += _STAGE_WEIGHTS[s]
        self._span = {s: _STAGE_WEIGHTS[s] / total for s in stages}
        self._last = 0.0

    def __call__(self, stage: str, step: int, total: int) -> None:
        start = self._start.get(stage, self._last)
        span = self._span.get(stage, 0.0)
        fraction = min(1.0, max(self._last, start + span * (step / max(total, 1))))
        self._last = fraction
        self.reporter.progress(stage, step, total, fraction)  # raises GenerationCanceled


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in {"1", "true", "yes", "on"}


def _weight_bytes(pipeline: Any) -> int:
    modules = [*pipeline.models.values(), pipeline.image_cond_module()]
    tensors = [t for m in modules if m is not None for t in (*m.parameters(), *m.buffers())]
    return sum(t.numel() * t.element_size() for t in tensors)


def loaded_types(pipeline: Any) -> tuple[str, ...]:
    """The pipeline types whose networks are all loaded."""
    from trellis2.pipelines.trellis2_image_to_3d import MODELS_FOR_TYPE

    return tuple(t for t in PIPELINE_TYPES if all(m in pipeline.models for m in MODELS_FOR_TYPE[t]))


def resident_fits(pipeline: Any, device: str) -> bool:
    """Whether every network plus the working memory of the largest loaded type
    (`RESIDENT_HEADROOM_BYTES`) fits the device's free memory."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return True
    free, _ = torch.cuda.mem_get_info(dev)
    types = loaded_types(pipeline) or PIPELINE_TYPES
    headroom = max(RESIDENT_HEADROOM_BYTES[t] for t in types)
    need = _weight_bytes(pipeline) + headroom
    _LOGGER.info(
        "GPU memory: weights + headroom %.1f GiB, free %.1f GiB → %s",
        need / 2**30,
        free / 2**30,
        "fits resident" if need <= free else "does not fit resident",
    )
    return need <= free


class Trellis2Backend:
    """Loads the pipeline once; `generate` runs one job (see the module docstring)."""

    name = "trellis2"

    def __init__(
        self,
        weights: str | None = None,
        device: str | None = None,
        random_weights: bool = False,
        pipeline: Any = None,
        rembg_model: str | None = None,
        low_vram: bool | None = None,
        pipeline_types: list[str] | None = None,
    ) -> None:
        weights = weights or os.environ.get("TRELLIS2_WEIGHTS") or DEFAULT_WEIGHTS
        random_weights = (
            random_weights or weights == "random" or _env_flag("TRELLIS2_RANDOM_WEIGHTS")
        )
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.weights = "random" if random_weights else weights
        # Resident although it does not fit comfortably (forced): see the module docstring.
        self.tight_memory = False
        if pipeline is None:
            from trellis2.pipelines import Trellis2ImageTo3DPipeline

            # Auto: load parked on the CPU, then decide from the weights' real size.
            offload = True if low_vram is None else low_vram
            if random_weights:
                pipeline = Trellis2ImageTo3DPipeline.from_pretrained(
                    None,
                    random_weights=True,
                    device=device,
                    low_vram=offload,
                    pipeline_types=pipeline_types,
                )
            else:
                pipeline = Trellis2ImageTo3DPipeline.from_pretrained(
                    weights,
                    rembg_model=rembg_model,
                    low_vram=offload,
                    pipeline_types=pipeline_types,
                )
            fits = resident_fits(pipeline, device)
            if low_vram is None:
                pipeline.low_vram = not fits
            self.tight_memory = not pipeline.low_vram and not fits
            pipeline.to(device)
            if self.tight_memory:
                pipeline.park_image_cond_model()
        self.pipeline = pipeline
        # The last job's export: {"prefetch_used": bool, "timings": step -> seconds}.
        self.last_export: dict[str, Any] = {}
        self.random_weights = bool(getattr(pipeline, "random_weights", False))

    def describe(self) -> BackendDescription:
        return BackendDescription(
            name=self.name,
            models=tuple(sorted(self.pipeline.models)),
            model_revision=self.weights,
            random_weights=self.random_weights,
            pipeline_types=loaded_types(self.pipeline),  # type: ignore[arg-type]
            device=str(self.device),
        )

    def _overlap_export(self) -> bool:
        offloading = (
            getattr(self.pipeline, "low_vram", False) and self.pipeline.device.type != "cpu"
        )
        return perf.current().overlap_export and not offloading and not self.tight_memory

    def generate(
        self, image: Image.Image, params: GenerationParams, reporter: ProgressReporter
    ) -> GeneratedAsset:
        """One job: pipeline.run with the params' sampler overrides, then the export."""
        if self.random_weights:
            _LOGGER.warning("generating with RANDOM WEIGHTS: the asset is noise (benchmark mode)")
        job = _Job(reporter, params, self._overlap_export())
        try:
            return self._generate(image, params, job)
        finally:
            if job.prefetch is not None:
                job.prefetch.close()

    def _generate(self, image: Image.Image, params: GenerationParams, job: _Job) -> GeneratedAsset:
        from trellis2.postprocess import ExportReport, export_asset

        progress = job.progress
        meshes, (_, _, res) = self.pipeline.run(
            image,
            num_samples=1,
            seed=params.seed,
            sparse_structure_sampler_params=dict(params.sparse_structure_sampler),
            shape_slat_sampler_params=dict(params.shape_slat_sampler),
            tex_slat_sampler_params=dict(params.tex_slat_sampler),
            pipeline_type=params.pipeline_type,
            progress=job.report,
            preview=job.preview,
            return_latent=True,
        )
        mesh = meshes[0]
        geometry = None
        if job.prefetch is not None:
            geometry = job.prefetch.take(mesh)
            job.send_previews()
        extras = {
            **dict(params.provenance),
            "generator": "TRELLIS.2 (trellis2 reimplementation)",
            "weights": self.weights,
            "random_weights": self.random_weights,
            "pipeline_type": params.pipeline_type,
            "seed": params.seed,
            "resolution": res,
        }
        progress("export", 0, 1)
        report = ExportReport()
        if job.prefetch is not None:
            report.timings.update(
                {f"prefetch.{k}": v for k, v in job.prefetch.report.timings.items()}
            )
        asset = export_asset(
            mesh.vertices,
            mesh.faces,
            mesh.attrs,
            mesh.coords,
            [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]],
            params.export,
            grid_size=res,
            attr_layout=self.pipeline.pbr_attr_layout,
            extras=extras,
            name=params.display_name,
            on_step=lambda stage, i, n: progress("export", i, n),
            geometry=geometry,
            report=report,
        )
        progress("export", 1, 1)
        self.last_export = {"prefetch_used": geometry is not None, "timings": report.timings}
        _LOGGER.info(
            "export: %d triangles, geometry made ahead: %s, steps (s): %s",
            asset.triangle_count,
            geometry is not None,
            {k: round(v, 3) for k, v in report.timings.items()},
        )
        return dataclasses.replace(asset, random_weights=self.random_weights)


class _Job:
    """One generation's progress, previews and export prefetch, all reported from the caller's
    thread (reporters need not be thread-safe)."""

    def __init__(self, reporter: ProgressReporter, params: GenerationParams, overlap: bool) -> None:
        self.reporter = reporter
        self.params = params
        self.overlap = overlap
        self.progress = JobProgress(reporter, params.pipeline_type)
        self.prefetch: ExportPrefetch | None = None

    def send_previews(self) -> None:
        if self.prefetch is not None:
            for kind, glb, png in self.prefetch.pending_previews():
                self.reporter.preview(kind, glb, png)

    def report(self, stage: str, step: int, total: int) -> None:
        self.send_previews()  # previews the prefetch made since the last step
        self.progress(stage, step, total)

    def preview(self, kind: str, payload: Mapping[str, Any]) -> None:
        from trellis2.pipelines.previews import voxel_preview

        if kind == "voxels":
            coords = payload["coords"]
            first = coords[coords[:, 0] == 0][:, 1:].cpu().numpy()
            glb, png = voxel_preview(first, int(payload["resolution"]))
            self.reporter.preview("voxels", glb, png)
        elif kind == "mesh":
            mesh = payload["meshes"][0]
            if self.overlap:
                self.prefetch = ExportPrefetch(
                    self.params.export,
                    int(payload["resolution"]),
                    mesh.vertices.device,
                    make_preview=_mesh_preview,
                )
                self.prefetch.start(mesh)
                return
            out = _mesh_preview(mesh.vertices, mesh.faces)
            if out is not None:
                self.reporter.preview("mesh", out[0], out[1])


def _mesh_preview(vertices: Any, faces: Any) -> tuple[bytes, bytes] | None:
    """GLB + PNG of a mesh (tensors or numpy). For CUDA tensors the decimation to the preview's
    budget runs on the GPU first (3M faces take seconds on the CPU); `mesh_preview` finishes
    it on the CPU if the parallel decimator stalls short of the budget."""
    from trellis2.pipelines.previews import PREVIEW_MAX_FACES, mesh_preview
    from trellis2.postprocess.decimate import simplify

    if isinstance(vertices, torch.Tensor):
        if vertices.is_cuda and len(faces) > PREVIEW_MAX_FACES:
            vertices, faces = simplify(vertices.float(), faces.long(), PREVIEW_MAX_FACES)
        vertices, faces = vertices.cpu().numpy(), faces.cpu().numpy()
    return mesh_preview(vertices, faces)
