# SPDX-License-Identifier: MIT
"""The contract between a generation backend and whoever runs it (server worker, CLI, tests).

A backend turns one image plus parameters into asset files, reporting progress through a
`ProgressReporter`. Backends live in the library and never import the server; the server's
worker process turns reporter calls into job events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

from PIL import Image

PipelineTypeName = Literal["512", "1024", "1024_cascade", "1536_cascade"]
TextureFormatName = Literal["png", "jpeg", "webp"]
ProfileName = Literal["generic", "unity", "godot"]
ContainerName = Literal["glb", "gltf"]
ExtraTextureName = Literal["metallic_smoothness", "mask_map", "orm"]
PreviewKindName = Literal["voxels", "mesh"]


class GenerationCanceled(Exception):
    """Raised from `ProgressReporter.progress` when the job was canceled; backends let it escape."""


@dataclass(frozen=True)
class ExportSettings:
    """How the O-Voxel becomes a file (maps 1:1 onto proto `ExportOptions`)."""

    decimation_target: int = 100_000
    texture_size: int = 1024
    texture_format: TextureFormatName = "png"
    profile: ProfileName = "generic"
    container: ContainerName = "glb"
    extra_textures: tuple[ExtraTextureName, ...] = ()
    normal_map: bool = True


@dataclass(frozen=True)
class GenerationParams:
    """Everything but the image. Sampler dicts use the reference's keys
    (steps, guidance_strength, guidance_rescale, guidance_interval, rescale_t) and are
    merged over the pipeline defaults."""

    pipeline_type: PipelineTypeName = "1024_cascade"
    seed: int = 42
    sparse_structure_sampler: Mapping[str, object] = field(default_factory=dict)
    shape_slat_sampler: Mapping[str, object] = field(default_factory=dict)
    tex_slat_sampler: Mapping[str, object] = field(default_factory=dict)
    export: ExportSettings = field(default_factory=ExportSettings)
    display_name: str = "asset"
    # Provenance written into glTF extras (input digest, job id, ...).
    provenance: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class OutputFile:
    """One produced file. `name` is relative (for glTF containers, the URI the .gltf uses)."""

    name: str
    data: bytes
    media_type: str
    # "asset" (main file), "asset_part" (.bin / images of a .gltf), "extra_texture".
    kind: str = "asset"


@dataclass(frozen=True)
class GeneratedAsset:
    """The result: files[0] is the main asset (.glb or .gltf)."""

    files: tuple[OutputFile, ...]
    triangle_count: int
    vertex_count: int
    texture_count: int
    texture_size: int
    texture_format: TextureFormatName
    alpha_mode: str
    extent: tuple[float, float, float]
    random_weights: bool = False


@dataclass(frozen=True)
class BackendDescription:
    name: str
    models: tuple[str, ...]
    model_revision: str
    random_weights: bool
    pipeline_types: tuple[PipelineTypeName, ...]
    device: str


class ProgressReporter(Protocol):
    def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
        """Report `step` of `total` in `stage`; `fraction` is whole-job progress in [0, 1].
        Raises GenerationCanceled when the job should stop (a step boundary)."""

    def preview(self, kind: PreviewKindName, glb: bytes, thumbnail_png: bytes | None) -> None:
        """Hand over a preview model (GLB) and an optional small PNG rendering of it."""


class Backend(Protocol):
    name: str

    def describe(self) -> BackendDescription: ...

    def generate(
        self, image: Image.Image, params: GenerationParams, reporter: ProgressReporter
    ) -> GeneratedAsset:
        """Run one job. `image` is already decoded and validated (RGB or RGBA)."""
        ...
