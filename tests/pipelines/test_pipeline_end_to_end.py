# SPDX-License-Identifier: MIT
"""The whole image-to-3D pipeline on a tiny random checkpoint in the official layout (CPU)."""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from trellis2 import perf
from trellis2.generation.trellis2_backend import Trellis2Backend
from trellis2.generation.types import ExportSettings, GenerationCanceled, GenerationParams
from trellis2.pipelines import Trellis2ImageTo3DPipeline, from_pretrained
from trellis2.pipelines.loading import HubAccessError
from trellis2.pipelines.tiny import TINY_DINOV3_CONFIG, TINY_MODEL_CONFIGS, write_tiny_checkpoint

FEW_STEPS = {"steps": 2}
SAMPLER_OVERRIDES = {
    "sparse_structure_sampler_params": FEW_STEPS,
    "shape_slat_sampler_params": FEW_STEPS,
    "tex_slat_sampler_params": FEW_STEPS,
}


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_trellis2"), ss_target_voxels=16)


@pytest.fixture(scope="module")
def pipe(tiny_ckpt: Path) -> Trellis2ImageTo3DPipeline:
    return Trellis2ImageTo3DPipeline.from_pretrained(str(tiny_ckpt))


@pytest.fixture(scope="module")
def rgba_image() -> Image.Image:
    arr = np.zeros((96, 80, 4), np.uint8)
    arr[20:76, 18:62] = (200, 120, 60, 255)
    arr[30:50, 30:50, :3] = (30, 160, 220)
    return Image.fromarray(arr)


@pytest.mark.parametrize(
    ("pipeline_type", "res"),
    [("512", 512), ("1024", 1024), ("1024_cascade", 1024), ("1536_cascade", 1536)],
)
def test_every_pipeline_type_produces_a_mesh_with_pbr_voxels(
    pipe: Trellis2ImageTo3DPipeline, rgba_image: Image.Image, pipeline_type: str, res: int
) -> None:
    stages: list[str] = []
    previews: list[str] = []
    out, (shape_slat, tex_slat, out_res) = pipe.run(
        rgba_image,
        seed=42,
        pipeline_type=pipeline_type,
        return_latent=True,
        progress=lambda s, i, n: stages.append(s) if not stages or stages[-1] != s else None,
        preview=lambda kind, payload: previews.append(kind),
        **SAMPLER_OVERRIDES,
    )
    assert out_res == res
    assert len(out) == 1
    mesh = out[0]
    assert mesh.faces.shape[0] > 0
    assert mesh.vertices.abs().max() <= 0.5 + 1.5 / res
    assert mesh.attrs.shape[1] == 6 and mesh.attrs.shape[0] == mesh.coords.shape[0]
    assert int(mesh.coords.max()) < res and int(mesh.coords.min()) >= 0
    assert tex_slat.coords.shape == shape_slat.coords.shape
    assert previews == ["voxels", "mesh"]
    shape_stages = (
        ["shape_slat_lr", "shape_slat_hr"] if "cascade" in pipeline_type else ["shape_slat"]
    )
    assert stages == [
        "preprocess",
        "cond",
        "sparse_structure",
        *shape_stages,
        "decode_shape",
        "tex_slat",
        "decode_tex",
    ]
    assert mesh.random_weights is False


def test_run_equals_the_stages_in_reference_noise_order_on_the_cpu_generator(
    pipe: Trellis2ImageTo3DPipeline, rgba_image: Image.Image
) -> None:
    _, (shape_run, tex_run, _) = pipe.run(
        rgba_image, seed=7, pipeline_type="512", return_latent=True, **SAMPLER_OVERRIDES
    )
    # Seed after preprocessing, then SS noise -> shape noise -> texture noise, all CPU draws.
    image = pipe.preprocess_image(rgba_image)
    torch.manual_seed(7)
    cond = pipe.get_cond([image], 512)
    coords = pipe.sample_sparse_structure(cond, 32, 1, FEW_STEPS)
    shape = pipe.sample_shape_slat(
        cond, pipe.models["shape_slat_flow_model_512"], coords, FEW_STEPS
    )
    tex = pipe.sample_tex_slat(cond, pipe.models["tex_slat_flow_model_512"], shape, FEW_STEPS)
    assert torch.equal(shape.coords, shape_run.coords)
    assert torch.equal(shape.feats, shape_run.feats)
    assert torch.equal(tex.feats, tex_run.feats)


def test_token_cap_lowers_1536_in_steps_of_128_but_always_accepts_1024(
    pipe: Trellis2ImageTo3DPipeline,
) -> None:
    g = torch.arange(0, 512, 3)
    xyz = torch.stack(torch.meshgrid(g, g[:40], g[:4], indexing="ij"), -1).reshape(-1, 3)
    hr = torch.cat([torch.zeros(len(xyz), 1, dtype=torch.long), xyz], 1).int()
    full, res = pipe.requantize_coords(hr, 512, 1536, max_num_tokens=10**9)
    assert res == 1536
    coords, res = pipe.requantize_coords(hr, 512, 1536, max_num_tokens=len(full))
    assert res == 1408 and len(coords) < len(full)
    assert int(coords[:, 1:].max()) < 1408 // 16
    _, res = pipe.requantize_coords(hr, 512, 1536, max_num_tokens=1)
    assert res == 1024


@pytest.mark.npm
def test_backend_streams_progress_and_previews_and_exports_a_valid_glb(
    pipe: Trellis2ImageTo3DPipeline, rgba_image: Image.Image, tmp_path: Path
) -> None:
    from gltf_validation import problems, validate

    class RecordingReporter:
        def __init__(self) -> None:
            self.fractions: list[float] = []
            self.previews: list[tuple[str, int, int]] = []

        def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
            self.fractions.append(fraction)

        def preview(self, kind: str, glb: bytes, thumbnail_png: bytes | None) -> None:
            assert glb[:4] == b"glTF" and thumbnail_png and thumbnail_png[:4] == b"\x89PNG"
            self.previews.append((kind, len(glb), len(thumbnail_png)))
            (tmp_path / f"preview_{kind}.glb").write_bytes(glb)

    backend = Trellis2Backend(pipeline=pipe, weights="tiny-checkpoint")
    reporter = RecordingReporter()
    params = GenerationParams(
        pipeline_type="1024_cascade",
        seed=1,
        sparse_structure_sampler=FEW_STEPS,
        shape_slat_sampler=FEW_STEPS,
        tex_slat_sampler=FEW_STEPS,
        export=ExportSettings(decimation_target=5000, texture_size=256),
    )
    asset = backend.generate(rgba_image, params, reporter)
    assert [p[0] for p in reporter.previews] == ["voxels", "mesh"]
    assert reporter.fractions == sorted(reporter.fractions) and reporter.fractions[-1] == 1.0
    assert asset.random_weights is False and asset.triangle_count > 0
    glb = tmp_path / "asset.glb"
    glb.write_bytes(asset.files[0].data)
    for path in [glb, *tmp_path.glob("preview_*.glb")]:
        assert problems(validate(path)) == [], path.name


def test_backend_export_overlapped_with_the_texture_stages_equals_the_sequential_one(
    pipe: Trellis2ImageTo3DPipeline, rgba_image: Image.Image
) -> None:
    """The geometry half runs in a worker thread while the texture flow samples (CPU here, a
    side CUDA stream on a GPU); the file must be byte-identical to the one-after-another run."""

    class Recording:
        def __init__(self) -> None:
            self.events: list[tuple[str, str]] = []

        def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
            self.events.append(("progress", stage))

        def preview(self, kind: str, glb: bytes, thumbnail_png: bytes | None) -> None:
            self.events.append(("preview", kind))

    params = GenerationParams(
        pipeline_type="512",
        seed=3,
        sparse_structure_sampler=FEW_STEPS,
        shape_slat_sampler=FEW_STEPS,
        tex_slat_sampler=FEW_STEPS,
        export=ExportSettings(decimation_target=2000, texture_size=128),
    )
    backend = Trellis2Backend(pipeline=pipe, weights="tiny")
    assert backend._overlap_export()
    overlapped = Recording()
    asset = backend.generate(rgba_image, params, overlapped)
    sequential = Recording()
    with perf.use(dataclasses.replace(perf.DEFAULT, overlap_export=False)):
        assert not backend._overlap_export()
        reference = backend.generate(rgba_image, params, sequential)
    assert asset.files[0].data == reference.files[0].data
    # The mesh preview still arrives, after the shape decoder and before the export.
    for events in (overlapped.events, sequential.events):
        kinds = [e for e in events if e[0] == "preview"]
        assert kinds == [("preview", "voxels"), ("preview", "mesh")]
        at = events.index(("preview", "mesh"))
        assert ("progress", "decode_shape") in events[:at]
        assert ("progress", "export") in events[at:]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_backend_keeps_weights_resident_when_they_fit_and_offloads_when_told(
    tiny_ckpt: Path, device: str
) -> None:
    auto = Trellis2Backend(weights=str(tiny_ckpt), device=device)
    assert auto.pipeline.low_vram is False  # a tiny checkpoint fits anywhere
    params = [p for m in auto.pipeline.models.values() for p in m.parameters()]
    assert {p.device.type for p in params} == {device}
    forced = Trellis2Backend(weights=str(tiny_ckpt), device=device, low_vram=True)
    assert forced.pipeline.low_vram is True
    params = [p for m in forced.pipeline.models.values() for p in m.parameters()]
    assert {p.device.type for p in params} == {"cpu"}
    assert forced._overlap_export() is (device == "cpu")  # no side work while offloading


@pytest.mark.gpu
def test_forced_resident_on_a_card_too_small_parks_the_encoder_and_does_not_overlap(
    tiny_ckpt: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trellis2.generation import trellis2_backend

    # Pretend every type needs more working memory than any GPU has.
    for t in trellis2_backend.RESIDENT_HEADROOM_BYTES:
        monkeypatch.setitem(trellis2_backend.RESIDENT_HEADROOM_BYTES, t, 1 << 50)
    auto = Trellis2Backend(weights=str(tiny_ckpt), device="cuda")
    assert auto.pipeline.low_vram is True and not auto.tight_memory
    forced = Trellis2Backend(weights=str(tiny_ckpt), device="cuda", low_vram=False)
    assert forced.tight_memory and not forced._overlap_export()
    encoder = forced.pipeline.image_cond_model.model
    assert {p.device.type for p in encoder.parameters()} == {"cpu"}
    assert {p.device.type for m in forced.pipeline.models.values() for p in m.parameters()} == {
        "cuda"
    }


def test_backend_lets_cancel_escape_at_a_step_boundary_and_parks_nothing(
    pipe: Trellis2ImageTo3DPipeline, rgba_image: Image.Image
) -> None:
    class CancelAtShape:
        def __init__(self) -> None:
            self.stages: list[str] = []

        def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
            self.stages.append(stage)
            if stage.startswith("shape_slat"):
                raise GenerationCanceled()

        def preview(self, kind: str, glb: bytes, thumbnail_png: bytes | None) -> None:
            pass

    reporter = CancelAtShape()
    params = GenerationParams(
        pipeline_type="512",
        sparse_structure_sampler=FEW_STEPS,
        shape_slat_sampler=FEW_STEPS,
        tex_slat_sampler=FEW_STEPS,
    )
    with pytest.raises(GenerationCanceled):
        Trellis2Backend(pipeline=pipe, weights="tiny").generate(rgba_image, params, reporter)
    assert reporter.stages[-1] == "shape_slat" and "tex_slat" not in reporter.stages


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_missing_weight_file_names_the_file(tiny_ckpt: Path, tmp_path: Path) -> None:
    root = _copy(tiny_ckpt, tmp_path / "ckpt")
    (root / "ckpts" / "tex_dec_next_dc_f16c32_fp16.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"tex_dec_next_dc_f16c32_fp16\.safetensors"):
        Trellis2ImageTo3DPipeline.from_pretrained(str(root))


def test_wrong_shaped_weight_names_the_file_and_key(tiny_ckpt: Path, tmp_path: Path) -> None:
    root = _copy(tiny_ckpt, tmp_path / "ckpt")
    st = root / "ckpts" / "slat_flow_img2shape_dit_1_3B_512_bf16.safetensors"
    state = load_file(str(st))
    state["input_layer.weight"] = torch.zeros(3, 3)
    save_file(state, str(st))
    with pytest.raises(Exception, match=r"slat_flow_img2shape_dit_1_3B_512_bf16(.|\n)*input_layer"):
        Trellis2ImageTo3DPipeline.from_pretrained(str(root))


def test_hub_id_while_offline_gives_a_clear_error(monkeypatch, tmp_path: Path) -> None:
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub-cache"))
    with pytest.raises(HubAccessError, match=r"pipeline\.json(.|\n)*HF_HUB_OFFLINE"):
        from_pretrained("example-org/not-cached-trellis2")


def test_random_weights_pipeline_flags_every_result_and_logs_it(
    rgba_image: Image.Image, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        pipe = Trellis2ImageTo3DPipeline.from_pretrained(
            None,
            random_weights=True,
            random_configs=TINY_MODEL_CONFIGS,
            dinov3_config=TINY_DINOV3_CONFIG,
        )
    assert "RANDOM WEIGHTS" in caplog.text
    # Random SS decoder: keep the structure small by sampling coords directly.
    image = pipe.preprocess_image(rgba_image)
    torch.manual_seed(0)
    cond = pipe.get_cond([image], 512)
    coords = torch.tensor([[0, 10, 10, 10], [0, 10, 11, 10], [0, 11, 10, 10]], dtype=torch.int32)
    flow = pipe.models["shape_slat_flow_model_512"]
    shape = pipe.sample_shape_slat(cond, flow, coords, FEW_STEPS)
    tex = pipe.sample_tex_slat(cond, pipe.models["tex_slat_flow_model_512"], shape, FEW_STEPS)
    out = pipe.decode_latent(shape, tex, 512)
    assert all(m.random_weights for m in out)


def test_gated_hub_repo_error_says_a_token_is_needed_and_how_to_set_it(monkeypatch) -> None:
    import httpx
    import huggingface_hub
    from huggingface_hub.errors import GatedRepoError

    def gated_hub_stand_in_for_test(repo_id: str, filename: str, **_: object) -> str:
        # The real hub cannot be reached from CI; this raises what it raises for gated repos.
        request = httpx.Request("GET", f"https://huggingface.co/{repo_id}/resolve/main/{filename}")
        raise GatedRepoError("gated", response=httpx.Response(401, request=request))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", gated_hub_stand_in_for_test)
    with pytest.raises(HubAccessError, match=r"gated(.|\n)*HF_TOKEN(.|\n)*huggingface-cli login"):
        from_pretrained("example-org/gated-trellis2")
