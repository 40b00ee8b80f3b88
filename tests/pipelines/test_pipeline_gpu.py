# SPDX-License-Identifier: MIT
"""The tiny pipeline on CUDA (device only): low-VRAM offload and agreement with the CPU run."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

# The device image may lack our CPU-side dependencies: skip rather than fail to collect.
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")
pytest.importorskip("transformers")
pytest.importorskip("safetensors")

from trellis2.pipelines import Trellis2ImageTo3DPipeline  # noqa: E402
from trellis2.pipelines.tiny import write_tiny_checkpoint  # noqa: E402

pytestmark = pytest.mark.gpu
FEW = {"steps": 2}


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("tiny_gpu"))


def _image():
    arr = np.zeros((96, 80, 4), np.uint8)
    arr[20:76, 18:62] = (200, 120, 60, 255)
    return Image.fromarray(arr)


def _latents(pipe: Trellis2ImageTo3DPipeline, pipeline_type: str):
    _, latents = pipe.run(
        _image(),
        seed=3,
        pipeline_type=pipeline_type,
        return_latent=True,
        sparse_structure_sampler_params=FEW,
        shape_slat_sampler_params=FEW,
        tex_slat_sampler_params=FEW,
    )
    return latents


@pytest.mark.parametrize("low_vram", [True, False])
def test_cuda_run_matches_the_cpu_run_because_noise_is_drawn_on_the_cpu(
    ckpt: Path, low_vram: bool
) -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cpu = Trellis2ImageTo3DPipeline.from_pretrained(str(ckpt))
    s_cpu, t_cpu, res_cpu = _latents(cpu, "1024_cascade")
    gpu = Trellis2ImageTo3DPipeline.from_pretrained(str(ckpt), low_vram=low_vram).cuda()
    if low_vram:
        assert all(p.device.type == "cpu" for p in gpu.models["tex_slat_decoder"].parameters())
    s_gpu, t_gpu, res_gpu = _latents(gpu, "1024_cascade")
    assert res_gpu == res_cpu
    assert torch.equal(s_gpu.coords.cpu(), s_cpu.coords)
    torch.testing.assert_close(s_gpu.feats.cpu(), s_cpu.feats, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(t_gpu.feats.cpu(), t_cpu.feats, rtol=1e-3, atol=1e-3)
    if low_vram:  # models went back to the CPU after their stage
        assert all(p.device.type == "cpu" for p in gpu.models["tex_slat_decoder"].parameters())


@pytest.mark.gpu
def test_cuda_backend_prepares_the_export_on_a_side_stream_and_matches_the_sequential_job(
    tmp_path: Path,
) -> None:
    """The real backend on CUDA (tiny checkpoint, CUDA graphs on): the export's geometry half
    runs beside the texture flow, is used, and gives the sequential job's asset."""
    import dataclasses

    from trellis2 import perf
    from trellis2.generation.trellis2_backend import Trellis2Backend
    from trellis2.generation.types import ExportSettings, GenerationParams

    class Quiet:
        def progress(self, stage: str, step: int, total: int, fraction: float) -> None:
            pass

        def preview(self, kind: str, glb: bytes, thumbnail_png: bytes | None) -> None:
            assert glb[:4] == b"glTF"

    ckpt = write_tiny_checkpoint(tmp_path / "tiny", ss_target_voxels=16)
    backend = Trellis2Backend(weights=str(ckpt), device="cuda")
    few = {"steps": 4}
    params = GenerationParams(
        pipeline_type="512", seed=5, sparse_structure_sampler=few, shape_slat_sampler=few,
        tex_slat_sampler=few, export=ExportSettings(decimation_target=3000, texture_size=256),
    )  # fmt: skip
    image = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    image.paste((200, 120, 40, 255), (32, 32, 96, 96))
    overlapped = backend.generate(image, params, Quiet())
    assert backend.last_export["prefetch_used"] is True
    assert "prefetch.decimate" in backend.last_export["timings"]
    with perf.use(dataclasses.replace(perf.current(), overlap_export=False)):
        sequential = backend.generate(image, params, Quiet())
    assert backend.last_export["prefetch_used"] is False
    assert overlapped.triangle_count > 0
    assert abs(overlapped.triangle_count - sequential.triangle_count) <= 0.01 * max(
        sequential.triangle_count, 1
    )
