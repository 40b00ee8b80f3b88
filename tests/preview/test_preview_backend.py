# SPDX-License-Identifier: MIT
"""The preview backend end to end: image → GLB/glTF that the Khronos validator accepts cleanly."""

from __future__ import annotations

import io
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from tests.gltf_validation import problems, validate
from trellis2.generation.types import ExportSettings, GenerationParams
from trellis2.preview import PreviewBackend

IMAGES = [
    "apple.png",
    "apple_on_white.jpg",
    "banana.png",
    "beach_ball.png",
    "cardboard_box.png",
    "television.png",
    "wooden_table.png",
]


@dataclass
class RecordingReporter:
    """Collects what a backend reports (a real reporter for the backend, not a test double)."""

    progress_calls: list[tuple[str, int, int, float]] = field(default_factory=list)
    previews: list[tuple[str, bytes, bytes | None]] = field(default_factory=list)

    def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
        self.progress_calls.append((stage, step, total, fraction))

    def preview(self, kind: str, glb: bytes, thumbnail_png: bytes | None) -> None:
        self.previews.append((kind, glb, thumbnail_png))


def glb_json(data: bytes) -> dict:
    magic, version, _ = struct.unpack("<4sII", data[:12])
    assert magic == b"glTF" and version == 2
    length, kind = struct.unpack("<I4s", data[12:20])
    assert kind == b"JSON"
    return json.loads(data[20 : 20 + length])


def write_files(asset, folder: Path) -> Path:
    for f in asset.files:
        (folder / f.name).write_bytes(f.data)
    return folder / asset.files[0].name


@pytest.fixture(scope="module")
def small_backend() -> PreviewBackend:
    return PreviewBackend(grid_size=64)


@pytest.mark.npm
@pytest.mark.parametrize("image_name", IMAGES)
def test_every_sample_image_becomes_a_validator_clean_glb(shared_dir, tmp_path, image_name):
    reporter = RecordingReporter()
    image = Image.open(shared_dir / "images" / image_name)
    params = GenerationParams(provenance={"input_digest": "sha256:test"}, seed=7)
    asset = PreviewBackend().generate(image, params, reporter)

    path = write_files(asset, tmp_path)
    assert path.suffix == ".glb"
    assert problems(validate(path)) == []
    doc = glb_json(asset.files[0].data)
    extras = doc["asset"]["extras"]["trellis2"]
    assert extras["seed"] == 7
    assert extras["provenance"] == {"input_digest": "sha256:test"}
    assert extras["software_version"]
    # Clip art is opaque everywhere the body is: the alpha mode must say so.
    assert asset.alpha_mode == "OPAQUE"
    assert "alphaMode" not in doc["materials"][0]
    assert 0 < asset.triangle_count <= params.export.decimation_target


def test_progress_covers_every_stage_in_order_and_previews_arrive(shared_dir, small_backend):
    reporter = RecordingReporter()
    image = Image.open(shared_dir / "images" / "banana.png")
    small_backend.generate(image, GenerationParams(), reporter)

    stages = [c[0] for c in reporter.progress_calls]
    expected = ["preprocess", "sparse_structure", "shape", "texture", "export"]
    assert [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s] == expected
    fractions = [c[3] for c in reporter.progress_calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    kinds = [p[0] for p in reporter.previews]
    assert kinds == ["voxels", "mesh"]
    for _, glb, thumb in reporter.previews:
        assert glb_json(glb)["meshes"]
        assert thumb is not None
        assert Image.open(io.BytesIO(thumb)).size == (128, 128)


@pytest.mark.npm
def test_preview_models_are_validator_clean(shared_dir, small_backend, tmp_path):
    reporter = RecordingReporter()
    small_backend.generate(
        Image.open(shared_dir / "images" / "apple.png"), GenerationParams(), reporter
    )
    for kind, glb, _ in reporter.previews:
        path = tmp_path / f"{kind}.glb"
        path.write_bytes(glb)
        assert problems(validate(path)) == [], kind


@pytest.mark.npm
@pytest.mark.parametrize("container", ["glb", "gltf"])
@pytest.mark.parametrize("profile", ["generic", "unity", "godot"])
@pytest.mark.parametrize("texture_format", ["png", "jpeg", "webp"])
def test_every_profile_and_container_is_validator_clean(
    shared_dir, small_backend, tmp_path, container, profile, texture_format
):
    export = ExportSettings(
        decimation_target=5000,
        texture_size=256,
        texture_format=texture_format,
        profile=profile,
        container=container,
        extra_textures=("metallic_smoothness", "mask_map", "orm"),
    )
    image = Image.open(shared_dir / "images" / "beach_ball.png")
    asset = small_backend.generate(image, GenerationParams(export=export), RecordingReporter())

    path = write_files(asset, tmp_path)
    assert path.suffix == f".{container}"
    report = validate(path)
    assert problems(report) == []
    mimes = {r.get("mimeType") for r in report["info"]["resources"]}
    webp_used = "image/webp" in mimes
    if profile == "unity":
        assert not webp_used
        assert not any(f.media_type == "image/webp" for f in asset.files)
    else:
        assert webp_used == (texture_format == "webp")
    extras = [f for f in asset.files if f.kind == "extra_texture"]
    assert sorted(f.name for f in extras) == [
        "asset_mask_map.png",
        "asset_metallic_smoothness.png",
        "asset_orm.png",
    ]
    assert asset.triangle_count <= 5000
    # Decimation removed detail, so a tangent-space normal map (and tangents) must be written.
    doc = glb_json(asset.files[0].data) if container == "glb" else json.loads(asset.files[0].data)
    assert "normalTexture" in doc["materials"][0]
    assert "TANGENT" in doc["meshes"][0]["primitives"][0]["attributes"]
