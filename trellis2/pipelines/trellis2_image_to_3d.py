# SPDX-License-Identifier: MIT
"""`Trellis2ImageTo3DPipeline`: image → sparse structure → shape SLat → texture SLat → meshes.

The public API and defaults are the reference's (§16.1). Noise is drawn with the default CPU
generator in the reference order (SS [B, 8, 16, 16, 16] → LR [N, 32] → HR [N_hr, 32] →
tex [N, 32]) and then moved to the device, so a seed reproduces the official result.

Progress: `progress(stage, step, total)` is called once per sampler step in every stage and
once per non-iterative stage. Stages: "preprocess", "cond", "sparse_structure",
"shape_slat" (or "shape_slat_lr" + "shape_slat_hr" in cascades), "decode_shape", "tex_slat",
"decode_tex". `preview(kind, payload)` is called with kind "voxels" (payload: dict with coords
[N, 4] int32 (b, x, y, z) and `resolution`, the SS grid size) after the sparse structure and
"mesh" (payload: dict with `meshes` and `resolution`) after shape decoding.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

from trellis2.modules.sparse import SparseTensor
from trellis2.pipelines.base import PipelineBase
from trellis2.pipelines.samplers import FlowEulerSampler

if TYPE_CHECKING:  # PIL is imported lazily: the pipeline's tensor stages do not need it
    from PIL import Image

_LOGGER = logging.getLogger(__name__)

ProgressFn = Callable[[str, int, int], None]
PreviewFn = Callable[[str, dict[str, Any]], None]

PIPELINE_TYPES = ("512", "1024", "1024_cascade", "1536_cascade")
# Sparse-structure grid used by each pipeline type (§1 table).
SS_RESOLUTION = {"512": 32, "1024": 64, "1024_cascade": 32, "1536_cascade": 32}
MODEL_NAMES = (
    "sparse_structure_flow_model",
    "sparse_structure_decoder",
    "shape_slat_flow_model_512",
    "shape_slat_flow_model_1024",
    "shape_slat_decoder",
    "tex_slat_flow_model_512",
    "tex_slat_flow_model_1024",
    "tex_slat_decoder",
)

_COMMON = ("sparse_structure_flow_model", "sparse_structure_decoder", "shape_slat_decoder")
# Networks each pipeline type runs; a pipeline loaded for some types keeps only these.
MODELS_FOR_TYPE: dict[str, tuple[str, ...]] = {
    "512": (*_COMMON, "shape_slat_flow_model_512", "tex_slat_flow_model_512", "tex_slat_decoder"),
    "1024": (
        *_COMMON,
        "shape_slat_flow_model_1024",
        "tex_slat_flow_model_1024",
        "tex_slat_decoder",
    ),
    "1024_cascade": (
        *_COMMON,
        "shape_slat_flow_model_512",
        "shape_slat_flow_model_1024",
        "tex_slat_flow_model_1024",
        "tex_slat_decoder",
    ),
}
MODELS_FOR_TYPE["1536_cascade"] = MODELS_FOR_TYPE["1024_cascade"]


def models_for(pipeline_types: str | Sequence[str] | None) -> tuple[str, ...]:
    """Model names needed by `pipeline_types` (one type, several, or None for all), in
    MODEL_NAMES order. Raises ValueError for an unknown type."""
    if pipeline_types is None:
        return MODEL_NAMES
    types = (pipeline_types,) if isinstance(pipeline_types, str) else tuple(pipeline_types)
    unknown = [t for t in types if t not in PIPELINE_TYPES]
    if unknown or not types:
        raise ValueError(f"pipeline types must be among {PIPELINE_TYPES}, got {types!r}")
    needed = {name for t in types for name in MODELS_FOR_TYPE[t]}
    return tuple(name for name in MODEL_NAMES if name in needed)


def _noop_progress(stage: str, step: int, total: int) -> None:
    return None


class Trellis2ImageTo3DPipeline(PipelineBase):
    """TRELLIS.2 image-to-3D. Build it with `from_pretrained` (see `pipeline_loading.py`)."""

    model_names_to_load = MODEL_NAMES
    pbr_attr_layout: ClassVar[dict[str, slice]] = {
        "base_color": slice(0, 3),
        "metallic": slice(3, 4),
        "roughness": slice(4, 5),
        "alpha": slice(5, 6),
    }

    def __init__(
        self,
        models: dict[str, torch.nn.Module],
        sparse_structure_sampler: FlowEulerSampler,
        shape_slat_sampler: FlowEulerSampler,
        tex_slat_sampler: FlowEulerSampler,
        sparse_structure_sampler_params: Mapping[str, Any],
        shape_slat_sampler_params: Mapping[str, Any],
        tex_slat_sampler_params: Mapping[str, Any],
        shape_slat_normalization: Mapping[str, list[float]],
        tex_slat_normalization: Mapping[str, list[float]],
        image_cond_model: Any,
        rembg_model: Any = None,
        low_vram: bool = True,
        default_pipeline_type: str = "1024_cascade",
        random_weights: bool = False,
    ) -> None:
        super().__init__(models, low_vram=low_vram)
        self.sparse_structure_sampler = sparse_structure_sampler
        self.shape_slat_sampler = shape_slat_sampler
        self.tex_slat_sampler = tex_slat_sampler
        self.sparse_structure_sampler_params = dict(sparse_structure_sampler_params)
        self.shape_slat_sampler_params = dict(shape_slat_sampler_params)
        self.tex_slat_sampler_params = dict(tex_slat_sampler_params)
        self.shape_slat_normalization = shape_slat_normalization
        self.tex_slat_normalization = tex_slat_normalization
        self.image_cond_model = image_cond_model
        # A BiRefNet instance, or a zero-argument factory that loads one on first use.
        self._rembg = rembg_model
        self._cond_parking: Any = None  # PinnedParking of the image encoder (resident mode)
        self.default_pipeline_type = default_pipeline_type
        self.random_weights = random_weights
        if random_weights:
            _LOGGER.warning(
                "TRELLIS.2 pipeline built with RANDOM WEIGHTS: outputs are noise, for "
                "benchmarks only"
            )

    @classmethod
    def from_pretrained(
        cls, path: str = "microsoft/TRELLIS.2-4B", config_file: str = "pipeline.json", **kw: Any
    ) -> Trellis2ImageTo3DPipeline:
        """Load from a local folder or a hub id in the official layout.

        Keyword options (see `pipeline_loading.load_image_to_3d`): `random_weights`,
        `random_configs`, `dinov3_config`, `device`, `seed`, `rembg_model` (e.g.
        "briaai/RMBG-2.0", non-commercial, only when asked), `low_vram`, `image_cond_model`,
        `pipeline_types` (load only the networks these types need, e.g. "1024_cascade").
        """
        from trellis2.pipelines.pipeline_loading import load_image_to_3d

        return load_image_to_3d(cls, path, config_file, **kw)

    def _aux_models(self) -> list[Any]:
        rembg = self._rembg if not callable(self._rembg) or hasattr(self._rembg, "to") else None
        return [self.image_cond_model, rembg]

    def image_cond_module(self) -> torch.nn.Module | None:
        """The image encoder's torch module (the extractor's `.model`), None for other kinds."""
        enc = self.image_cond_model
        module = enc if isinstance(enc, torch.nn.Module) else getattr(enc, "model", None)
        return module if isinstance(module, torch.nn.Module) else None

    def park_image_cond_model(self) -> bool:
        """With the networks resident on a GPU: keep the image encoder's weights in pinned host
        memory and upload them only for conditioning (trellis2.pipelines.parking; ~0.02 s per
        call for 1.13 GiB on an H100). Returns whether it parked (not in low-VRAM mode, on the
        CPU, or for an encoder that is not a torch module)."""
        module = self.image_cond_module()
        if self.low_vram or self._device.type != "cuda" or module is None:
            return False
        from trellis2.pipelines.parking import PinnedParking

        self._cond_parking = PinnedParking(module, self._device)
        return True

    # ------------------------------------------------------------------ inputs
    @property
    def rembg_model(self) -> Any:
        if self._rembg is not None and not hasattr(self._rembg, "to"):
            self._rembg = self._rembg()  # lazy: only images without alpha need it
            if not self.low_vram:
                self._rembg.to(self._device)
        return self._rembg

    def preprocess_image(self, image: Image.Image) -> Image.Image:
        """§2: crop on alpha (background removal first if the image has none), premultiply."""
        from trellis2.pipelines.preprocess import preprocess_image as _preprocess

        def remove(rgb: Image.Image) -> Image.Image:
            model = self.rembg_model
            if model is None:
                raise ValueError(
                    "this pipeline has no background-removal model; send an RGBA image with "
                    "a transparent background"
                )
            with self._on_device(model):
                return model(rgb)

        return _preprocess(image, remove)

    @torch.no_grad()
    def get_cond(
        self, image: list[Image.Image], resolution: int, include_neg_cond: bool = True
    ) -> dict[str, torch.Tensor]:
        """DINOv3 tokens at `resolution` px: cond [B, 1+4+(res/16)^2, 1024], neg_cond zeros."""
        self.image_cond_model.image_size = resolution
        parking = self._cond_parking
        with parking.on_device() if parking is not None else self._on_device(self.image_cond_model):
            cond = self.image_cond_model(image).to(self.device)
        if not include_neg_cond:
            return {"cond": cond}
        return {"cond": cond, "neg_cond": torch.zeros_like(cond)}

    @staticmethod
    def _batched(cond: dict[str, torch.Tensor], batch: int) -> dict[str, torch.Tensor]:
        # The reference passes batch-1 cond with B noise samples, which its attention rejects
        # for B > 1; repeating cond makes num_samples > 1 work and changes nothing for B = 1.
        return {k: v.expand(batch, *v.shape[1:]) if v.shape[0] == 1 else v for k, v in cond.items()}

    # ------------------------------------------------------------------ stage 1
    @torch.no_grad()
    def sample_sparse_structure_latent(
        self,
        cond: dict[str, torch.Tensor],
        num_samples: int = 1,
        sampler_params: Mapping[str, Any] | None = None,
        progress: ProgressFn | None = None,
    ) -> torch.Tensor:
        """Sampled SS latent z_s [B, C, R, R, R] fp32 (noise drawn on the CPU generator)."""
        flow_model = self.models["sparse_structure_flow_model"]
        reso, ch = flow_model.resolution, flow_model.in_channels
        noise = torch.randn(num_samples, ch, reso, reso, reso).to(self.device)
        params = {**self.sparse_structure_sampler_params, **(sampler_params or {})}
        report = progress or _noop_progress
        with self._on_device(flow_model):
            return self.sparse_structure_sampler.sample(
                flow_model,
                noise,
                **self._batched(cond, num_samples),
                **params,
                progress=lambda i, n: report("sparse_structure", i, n),
            ).samples

    @torch.no_grad()
    def decode_sparse_structure(self, z_s: torch.Tensor, resolution: int) -> torch.Tensor:
        """z_s → occupied coords [N, 4] int32 (b, x, y, z) on a `resolution`^3 grid (§5.3)."""
        decoder = self.models["sparse_structure_decoder"]
        with self._on_device(decoder):
            decoded = decoder(z_s) > 0  # [B, 1, 64, 64, 64]
        if resolution != decoded.shape[2]:
            ratio = decoded.shape[2] // resolution
            decoded = F.max_pool3d(decoded.float(), ratio, ratio, 0) > 0.5
        return torch.argwhere(decoded)[:, [0, 2, 3, 4]].int()

    def sample_sparse_structure(
        self,
        cond: dict[str, torch.Tensor],
        resolution: int,
        num_samples: int = 1,
        sampler_params: Mapping[str, Any] | None = None,
        progress: ProgressFn | None = None,
    ) -> torch.Tensor:
        z_s = self.sample_sparse_structure_latent(cond, num_samples, sampler_params, progress)
        coords = self.decode_sparse_structure(z_s, resolution)
        if coords.shape[0] == 0:
            raise RuntimeError(
                "the sparse structure is empty (no occupied voxel); try another seed or image"
            )
        return coords

    # ------------------------------------------------------------------ stage 2
    def _denormalize(self, slat: SparseTensor, norm: Mapping[str, list[float]]) -> SparseTensor:
        std = torch.tensor(norm["std"], dtype=slat.feats.dtype, device=slat.device)[None]
        mean = torch.tensor(norm["mean"], dtype=slat.feats.dtype, device=slat.device)[None]
        return slat.replace(slat.feats * std + mean)

    def _normalize(self, slat: SparseTensor, norm: Mapping[str, list[float]]) -> SparseTensor:
        std = torch.tensor(norm["std"], dtype=slat.feats.dtype, device=slat.device)[None]
        mean = torch.tensor(norm["mean"], dtype=slat.feats.dtype, device=slat.device)[None]
        return slat.replace((slat.feats - mean) / std)

    @torch.no_grad()
    def sample_shape_slat(
        self,
        cond: dict[str, torch.Tensor],
        flow_model: torch.nn.Module,
        coords: torch.Tensor,
        sampler_params: Mapping[str, Any] | None = None,
        progress: ProgressFn | None = None,
        stage: str = "shape_slat",
    ) -> SparseTensor:
        """Shape SLat at `coords` (de-normalised), noise [N, in_channels] from the CPU RNG."""
        noise = SparseTensor(
            torch.randn(coords.shape[0], flow_model.in_channels).to(self.device),
            coords.to(self.device),
        )
        params = {**self.shape_slat_sampler_params, **(sampler_params or {})}
        report = progress or _noop_progress
        with self._on_device(flow_model):
            slat = self.shape_slat_sampler.sample(
                flow_model,
                noise,
                **self._batched(cond, noise.shape[0]),
                **params,
                progress=lambda i, n: report(stage, i, n),
            ).samples
        return self._denormalize(slat, self.shape_slat_normalization)

    @torch.no_grad()
    def requantize_coords(
        self, hr_coords: torch.Tensor, lr_resolution: int, resolution: int, max_num_tokens: int
    ) -> tuple[torch.Tensor, int]:
        """§6.3 step 3: 512^3 voxel coords → unique latent coords at (hr / 16)^3, lowering
        hr by 128 while the token count reaches `max_num_tokens` (1024 always accepted)."""
        hr_resolution = resolution
        while True:
            scaled = (hr_coords[:, 1:] + 0.5) / lr_resolution * (hr_resolution // 16)
            quant = torch.cat([hr_coords[:, :1], scaled.int()], dim=1)
            coords = quant.unique(dim=0)
            if coords.shape[0] < max_num_tokens or hr_resolution == 1024:
                if hr_resolution != resolution:
                    _LOGGER.info(
                        "token cap %d reached: resolution lowered from %d to %d",
                        max_num_tokens,
                        resolution,
                        hr_resolution,
                    )
                return coords.int(), hr_resolution
            hr_resolution -= 128

    @torch.no_grad()
    def sample_shape_slat_cascade(
        self,
        lr_cond: dict[str, torch.Tensor],
        cond: dict[str, torch.Tensor],
        flow_model_lr: torch.nn.Module,
        flow_model: torch.nn.Module,
        lr_resolution: int,
        resolution: int,
        coords: torch.Tensor,
        sampler_params: Mapping[str, Any] | None = None,
        max_num_tokens: int = 49152,
        progress: ProgressFn | None = None,
    ) -> tuple[SparseTensor, int]:
        """LR sampling → decoder upsample ×4 → re-quantise (token cap) → HR sampling."""
        slat = self.sample_shape_slat(
            lr_cond, flow_model_lr, coords, sampler_params, progress, stage="shape_slat_lr"
        )
        decoder = self.models["shape_slat_decoder"]
        with self._on_device(decoder):
            hr_coords = decoder.upsample(slat, upsample_times=4)
        coords, hr_resolution = self.requantize_coords(
            hr_coords, lr_resolution, resolution, max_num_tokens
        )
        slat = self.sample_shape_slat(
            cond, flow_model, coords, sampler_params, progress, stage="shape_slat_hr"
        )
        return slat, hr_resolution

    @torch.no_grad()
    def decode_shape_slat(self, slat: SparseTensor, resolution: int) -> tuple[list[Any], list]:
        """Shape SLat → (per-sample meshes, subdivision logits of the 4 C2S levels)."""
        decoder = self.models["shape_slat_decoder"]
        decoder.set_resolution(resolution)
        with self._on_device(decoder):
            meshes, subs = decoder(slat, return_subs=True)
        return meshes, subs

    # ------------------------------------------------------------------ stage 3
    @torch.no_grad()
    def sample_tex_slat(
        self,
        cond: dict[str, torch.Tensor],
        flow_model: torch.nn.Module,
        shape_slat: SparseTensor,
        sampler_params: Mapping[str, Any] | None = None,
        progress: ProgressFn | None = None,
    ) -> SparseTensor:
        """Texture SLat (de-normalised); the model input is [noise | normalised shape SLat]."""
        concat = self._normalize(shape_slat, self.shape_slat_normalization)
        in_noise = flow_model.in_channels - concat.feats.shape[1]
        noise = shape_slat.replace(torch.randn(shape_slat.feats.shape[0], in_noise).to(self.device))
        params = {**self.tex_slat_sampler_params, **(sampler_params or {})}
        report = progress or _noop_progress
        with self._on_device(flow_model):
            slat = self.tex_slat_sampler.sample(
                flow_model,
                noise,
                **self._batched(cond, noise.shape[0]),
                concat_cond=concat,
                **params,
                progress=lambda i, n: report("tex_slat", i, n),
            ).samples
        return self._denormalize(slat, self.tex_slat_normalization)

    @torch.no_grad()
    def decode_tex_slat(self, slat: SparseTensor, subs: list) -> SparseTensor:
        """Texture SLat → PBR voxels [M, 6] in ~[0, 1] at the shape decoder's voxels."""
        decoder = self.models["tex_slat_decoder"]
        with self._on_device(decoder):
            out = decoder(slat, guide_subs=subs)
        return out.replace(out.feats * 0.5 + 0.5)

    # ------------------------------------------------------------------ assembly
    def _assemble(self, meshes: list[Any], tex_voxels: SparseTensor, resolution: int) -> list[Any]:
        from trellis2.pipelines.assemble import mesh_with_voxel

        out = []
        for i, mesh in enumerate(meshes):
            m = mesh_with_voxel(mesh, tex_voxels[i], resolution, self.pbr_attr_layout)
            m.random_weights = self.random_weights
            out.append(m)
        return out

    @torch.no_grad()
    def decode_latent(
        self, shape_slat: SparseTensor, tex_slat: SparseTensor, resolution: int
    ) -> list[Any]:
        """Both decoders → list of MeshWithVoxel (one per sample)."""
        meshes, subs = self.decode_shape_slat(shape_slat, resolution)
        tex_voxels = self.decode_tex_slat(tex_slat, subs)
        return self._assemble(meshes, tex_voxels, resolution)

    @torch.no_grad()
    def run(
        self,
        image: Image.Image,
        num_samples: int = 1,
        seed: int = 42,
        sparse_structure_sampler_params: Mapping[str, Any] | None = None,
        shape_slat_sampler_params: Mapping[str, Any] | None = None,
        tex_slat_sampler_params: Mapping[str, Any] | None = None,
        preprocess_image: bool = True,
        return_latent: bool = False,
        pipeline_type: str | None = None,
        max_num_tokens: int = 49152,
        progress: ProgressFn | None = None,
        preview: PreviewFn | None = None,
    ) -> Any:
        """Image → list of MeshWithVoxel (or (list, (shape_slat, tex_slat, res)))."""
        pipeline_type = pipeline_type or self.default_pipeline_type
        if pipeline_type not in PIPELINE_TYPES:
            raise ValueError(
                f"pipeline_type must be one of {PIPELINE_TYPES}, got {pipeline_type!r}"
            )
        missing = [n for n in MODELS_FOR_TYPE[pipeline_type] if n not in self.models]
        if missing:
            raise ValueError(
                f"pipeline type {pipeline_type!r} needs {missing}, which this pipeline did not "
                f"load; load it with pipeline_types=None (all types) or including "
                f"{pipeline_type!r}"
            )
        report = progress or _noop_progress
        if preprocess_image:
            image = self.preprocess_image(image)
        report("preprocess", 1, 1)
        torch.manual_seed(seed)
        cond_512 = self.get_cond([image], 512)
        cond_1024 = self.get_cond([image], 1024) if pipeline_type != "512" else None
        report("cond", 1, 1)
        ss_res = SS_RESOLUTION[pipeline_type]
        coords = self.sample_sparse_structure(
            cond_512, ss_res, num_samples, sparse_structure_sampler_params, report
        )
        if preview is not None:
            preview("voxels", {"coords": coords, "resolution": ss_res})
        m = self.models
        if pipeline_type == "512":
            shape_slat = self.sample_shape_slat(
                cond_512, m["shape_slat_flow_model_512"], coords, shape_slat_sampler_params, report
            )
            res, tex_cond, tex_flow = 512, cond_512, m["tex_slat_flow_model_512"]
        elif pipeline_type == "1024":
            assert cond_1024 is not None
            shape_slat = self.sample_shape_slat(
                cond_1024,
                m["shape_slat_flow_model_1024"],
                coords,
                shape_slat_sampler_params,
                report,
            )
            res, tex_cond, tex_flow = 1024, cond_1024, m["tex_slat_flow_model_1024"]
        else:
            assert cond_1024 is not None
            target = 1024 if pipeline_type == "1024_cascade" else 1536
            shape_slat, res = self.sample_shape_slat_cascade(
                cond_512,
                cond_1024,
                m["shape_slat_flow_model_512"],
                m["shape_slat_flow_model_1024"],
                512,
                target,
                coords,
                shape_slat_sampler_params,
                max_num_tokens,
                report,
            )
            tex_cond, tex_flow = cond_1024, m["tex_slat_flow_model_1024"]
        # Shape decoding draws no random numbers, so doing it before texture sampling keeps
        # the reference noise order and lets the mesh preview come early.
        meshes, subs = self.decode_shape_slat(shape_slat, res)
        report("decode_shape", 1, 1)
        if preview is not None:
            preview("mesh", {"meshes": meshes, "resolution": res})
        tex_slat = self.sample_tex_slat(
            tex_cond, tex_flow, shape_slat, tex_slat_sampler_params, report
        )
        tex_voxels = self.decode_tex_slat(tex_slat, subs)
        out = self._assemble(meshes, tex_voxels, res)
        report("decode_tex", 1, 1)
        if return_latent:
            return out, (shape_slat, tex_slat, res)
        return out
