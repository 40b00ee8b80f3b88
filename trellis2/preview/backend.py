# SPDX-License-Identifier: MIT
"""The preview backend: no learned weights, CPU. Image → silhouette → inflated 2.5D body as an
O-Voxel → the same export path the TRELLIS.2 backend uses (trellis2.postprocess)."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import torch
from PIL import Image

import trellis2
from trellis2.generation.types import (
    BackendDescription,
    GeneratedAsset,
    GenerationParams,
    ProgressReporter,
)
from trellis2.postprocess.export import EXPORT_STEPS, PBR_ATTR_LAYOUT, ExportReport, export_asset
from trellis2.preview.body import build_ovoxel
from trellis2.preview.render import (
    mesh_preview_glb,
    mesh_thumbnail,
    voxel_preview_glb,
    voxel_thumbnail,
)
from trellis2.preview.silhouette import crop_to_object, image_to_rgba, resize_rgba
from trellis2.representations.o_voxel.flexible_dual_grid import flexible_dual_grid_to_mesh
from trellis2.representations.o_voxel.grid_sample import sample_attrs

AABB = ((-0.5, -0.5, -0.5), (0.5, 0.5, 0.5))
# O-Voxel resolution per pipeline type (the preview's stand-in for the decoder resolution).
GRID_SIZE = {"512": 96, "1024": 128, "1024_cascade": 128, "1536_cascade": 160}
# Whole-job progress at the start of each stage; export spreads over the rest.
_STAGE_START = {"preprocess": 0.0, "sparse_structure": 0.05, "shape": 0.15, "texture": 0.35}
_EXPORT_START = 0.45


class PreviewBackend:
    """Backend protocol implementation (see trellis2.generation.types.Backend)."""

    name = "preview"

    def __init__(self, grid_size: int | None = None) -> None:
        """grid_size overrides the per-pipeline-type O-Voxel resolution (tests use small ones)."""
        self._grid_size = grid_size

    def describe(self) -> BackendDescription:
        return BackendDescription(
            name=self.name,
            models=(),
            model_revision=f"preview-{trellis2.__version__}",
            random_weights=False,
            pipeline_types=("512", "1024", "1024_cascade", "1536_cascade"),
            device="cpu",
        )

    def generate(
        self, image: Image.Image, params: GenerationParams, reporter: ProgressReporter
    ) -> GeneratedAsset:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        grid = self._grid_size or GRID_SIZE.get(params.pipeline_type, 128)

        reporter.progress("preprocess", 0, 1, _STAGE_START["preprocess"])
        rgba = crop_to_object(image_to_rgba(image))
        # The body needs about 4 texels per voxel; more only costs time.
        work = resize_rgba(rgba, min(rgba.shape[0], 4 * grid))
        timings["preprocess"] = time.perf_counter() - t0

        reporter.progress("sparse_structure", 0, 1, _STAGE_START["sparse_structure"])
        t = time.perf_counter()
        ovoxel = build_ovoxel(work, grid)
        timings["sparse_structure"] = time.perf_counter() - t
        coords = torch.from_numpy(ovoxel.coords.astype(np.int64))
        colors = ovoxel.attrs[:, 0:3]
        reporter.preview(
            "voxels",
            voxel_preview_glb(ovoxel.coords, colors, grid),
            voxel_thumbnail(ovoxel.coords, colors, grid),
        )

        reporter.progress("shape", 0, 1, _STAGE_START["shape"])
        t = time.perf_counter()
        vertices, faces = flexible_dual_grid_to_mesh(
            coords,
            torch.from_numpy(ovoxel.dual_vertices),
            torch.from_numpy(ovoxel.intersected),
            None,
            AABB,
            grid_size=grid,
        )
        timings["shape"] = time.perf_counter() - t

        reporter.progress("texture", 0, 1, _STAGE_START["texture"])
        t = time.perf_counter()
        attrs = torch.from_numpy(ovoxel.attrs)
        v_np, f_np = vertices.numpy(), faces.numpy()
        vcol = sample_attrs(attrs, coords, vertices, AABB[0], 1.0 / grid)[:, 0:3].numpy()
        reporter.preview(
            "mesh", mesh_preview_glb(v_np, f_np, vcol), mesh_thumbnail(v_np, f_np, vcol)
        )
        timings["texture"] = time.perf_counter() - t

        n_steps = len(EXPORT_STEPS)

        def on_step(name: str, i: int, n: int) -> None:
            frac = _EXPORT_START + (1.0 - _EXPORT_START) * i / n
            reporter.progress("export", i, n, frac)

        t = time.perf_counter()
        report = ExportReport()
        asset = export_asset(
            vertices,
            faces,
            attrs,
            coords,
            AABB,
            params.export,
            grid_size=grid,
            attr_layout=PBR_ATTR_LAYOUT,
            extras=self._provenance(image, params, grid),
            name=params.display_name or "asset",
            on_step=on_step,
            report=report,
        )
        timings["export"] = time.perf_counter() - t
        reporter.progress("export", n_steps, n_steps, 1.0)
        self.last_timings = {**timings, **{f"export.{k}": v for k, v in report.timings.items()}}
        return asset

    def _provenance(self, image: Image.Image, params: GenerationParams, grid: int) -> dict:
        digest = hashlib.sha256(image.tobytes()).hexdigest()
        export = params.export
        return {
            "trellis2": {
                "generator": "trellis2",
                "software_version": trellis2.__version__,
                "backend": self.name,
                "model_revision": f"preview-{trellis2.__version__}",
                "seed": params.seed,
                "pipeline_type": params.pipeline_type,
                "grid_size": grid,
                "image_pixels_sha256": digest,
                "export": {
                    "decimation_target": export.decimation_target,
                    "texture_size": export.texture_size,
                    "texture_format": export.texture_format,
                    "profile": export.profile,
                    "container": export.container,
                },
                "provenance": {str(k): _jsonable(v) for k, v in params.provenance.items()},
            }
        }


def _jsonable(v: object) -> object:
    if isinstance(v, str | int | float | bool) or v is None:
        return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return str(v)
