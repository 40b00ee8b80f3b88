# SPDX-License-Identifier: MIT
"""Building `Trellis2ImageTo3DPipeline` from the official layout or with random weights.

Official layout (§9.1-9.2): `pipeline.json` → `args.models[name]` = `ckpts/<stem>` (tried as
`{location}/{value}` then `value`, which is how the external
`microsoft/TRELLIS-image-large/ckpts/ss_dec_conv3d_16l8_fp16` decoder resolves), samplers with
params, latent normalisations, `image_cond_model`, `rembg_model`, `default_pipeline_type`,
optional `low_vram` (default True).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from trellis2.pipelines.defaults import DINOV3_VITL16_CONFIG, OFFICIAL_PIPELINE_CONFIG
from trellis2.pipelines.image_cond import DinoV3FeatureExtractor
from trellis2.pipelines.loading import (
    HubAccessError,
    is_local,
    read_json,
    resolve_file,
    resolve_pipeline_model,
)
from trellis2.pipelines.rembg import DEFAULT_BIREFNET, RMBG_2_0, BiRefNet
from trellis2.pipelines.samplers import build_sampler
from trellis2.pipelines.trellis2_image_to_3d import MODEL_NAMES, models_for

_LOGGER = logging.getLogger(__name__)

SAMPLER_KEYS = ("sparse_structure_sampler", "shape_slat_sampler", "tex_slat_sampler")


def _require(args: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in args:
        raise KeyError(f"{where} has no {key!r} entry; compare it with the official pipeline.json")
    return args[key]


def _load_dinov3(location: str | None, model_name: str) -> DinoV3FeatureExtractor:
    """A model name relative to a local pipeline folder wins over a hub id of the same name."""
    if location is not None and is_local(location) and (Path(location) / model_name).is_dir():
        model_name = str(Path(location) / model_name)
    try:
        return DinoV3FeatureExtractor(model_name)
    except OSError as exc:
        raise HubAccessError(
            f"cannot load the DINOv3 image encoder {model_name!r}: {exc}\n"
            "Its weights are gated (DINOv3 License): accept the license on "
            f"https://huggingface.co/{model_name} and set HF_TOKEN=hf_... or run "
            "`huggingface-cli login`; offline, pre-download it into the Hugging Face cache."
        ) from exc


def _rembg_factory(
    location: str | None, configured: str | None, requested: str | None
) -> Callable[[], BiRefNet]:
    """Lazy BiRefNet loader. RMBG-2.0 (non-commercial) only when `requested` names it."""
    name = requested or configured or DEFAULT_BIREFNET
    if requested is None and configured == RMBG_2_0:
        _LOGGER.info(
            "pipeline.json names %s (non-commercial weights); using the MIT %s instead. "
            "Pass rembg_model=%r to use it.",
            RMBG_2_0,
            DEFAULT_BIREFNET,
            RMBG_2_0,
        )
        name = DEFAULT_BIREFNET
    if location is not None and is_local(location) and (Path(location) / name).is_dir():
        name = str(Path(location) / name)
    return lambda: BiRefNet(name)


def _load_models(location: str, model_paths: Mapping[str, str], names: tuple[str, ...]):
    from trellis2 import models as model_lib

    loaded: dict[str, torch.nn.Module] = {}
    for name in names:
        value = _require(model_paths, name, "pipeline.json args.models")
        stem = resolve_pipeline_model(location, value)
        _LOGGER.info("loading %s from %s", name, stem)
        loaded[name] = model_lib.from_pretrained(str(stem))
    return loaded


def _random_models(
    model_paths: Mapping[str, str],
    names: tuple[str, ...],
    configs: Mapping[str, Mapping[str, Any]] | None,
    device: torch.device,
    seed: int,
    park: bool = False,
) -> dict[str, torch.nn.Module]:
    """Random networks built on `device` (fast init); with `park` each one moves to the CPU
    right after it is built, so the device never holds more than one (low-VRAM mode). The
    seed of a network is `seed` + its index in MODEL_NAMES, whichever subset is built."""
    from trellis2.models.loading import build_random

    order = {name: i for i, name in enumerate(MODEL_NAMES)}
    loaded: dict[str, torch.nn.Module] = {}
    for name in names:
        if configs is not None and name in configs:
            spec = configs[name]
        else:
            from trellis2.models.presets import preset

            spec = preset(Path(model_paths[name]).name)
        model = build_random(spec["name"], spec["args"], device=device, seed=seed + order[name])
        loaded[name] = model.to("cpu") if park else model
    return loaded


def _default_type(args: Mapping[str, Any], pipeline_types: str | Sequence[str] | None) -> str:
    """pipeline.json's default type, unless the loaded types exclude it (then the first)."""
    default = args.get("default_pipeline_type", "1024_cascade")
    if pipeline_types is None:
        return default
    types = [pipeline_types] if isinstance(pipeline_types, str) else list(pipeline_types)
    return default if default in types else types[0]


def load_image_to_3d(
    cls: type,
    path: str | None = "microsoft/TRELLIS.2-4B",
    config_file: str = "pipeline.json",
    *,
    random_weights: bool = False,
    random_configs: Mapping[str, Mapping[str, Any]] | None = None,
    dinov3_config: Mapping[str, Any] | None = None,
    device: str | torch.device = "cpu",
    seed: int = 0,
    rembg_model: str | None = None,
    low_vram: bool | None = None,
    image_cond_model: Any = None,
    pipeline_types: str | Sequence[str] | None = None,
) -> Any:
    """See `Trellis2ImageTo3DPipeline.from_pretrained`.

    `random_weights=True` builds every network (and DINOv3 ViT-L) with random weights on
    `device` without reading any file (official pipeline.json content from `defaults.py`;
    `random_configs` / `dinov3_config` override model configs, e.g. tiny ones for CPU smoke
    tests). `image_cond_model` replaces the DINOv3 extractor (anything with `.to`,
    `.image_size` and `__call__(images) -> [B, L, C]`). A random pipeline has no background
    removal (send RGBA images) and marks every result `random_weights = True`.

    `pipeline_types` (one type or several) loads only the networks those types run (a
    1024_cascade pipeline does not hold tex_slat_flow_model_512); `run` then refuses other
    types with an error saying how to load them. None loads all eight.
    """
    if random_weights:
        config: dict[str, Any] = OFFICIAL_PIPELINE_CONFIG
    else:
        if path is None:
            raise ValueError("pass a weights folder or hub id, or random_weights=True")
        config = read_json(resolve_file(path, config_file))
    if config.get("name") not in (None, cls.__name__):
        raise ValueError(f"{config_file} describes {config.get('name')!r}, not {cls.__name__}")
    args = _require(config, "args", config_file)
    model_paths = _require(args, "models", config_file)
    names = tuple(cls.model_names_to_load)
    if pipeline_types is not None:
        wanted = set(models_for(pipeline_types))
        names = tuple(n for n in names if n in wanted)
    low_vram = args.get("low_vram", True) if low_vram is None else low_vram

    if random_weights:
        dev = torch.device(device)
        park = low_vram and dev.type != "cpu"
        models = _random_models(model_paths, names, random_configs, dev, seed, park)
        if image_cond_model is None:
            from transformers import DINOv3ViTConfig, DINOv3ViTModel

            torch.manual_seed(seed)
            dino = DINOv3ViTModel(DINOv3ViTConfig(**(dinov3_config or DINOV3_VITL16_CONFIG)))
            image_cond_model = DinoV3FeatureExtractor(model=dino.to(dev))
        image_cond = image_cond_model
        rembg = None
    else:
        assert path is not None
        models = _load_models(path, model_paths, names)
        cond_spec = _require(args, "image_cond_model", config_file)
        if cond_spec.get("name") != "DinoV3FeatureExtractor":
            raise ValueError(f"unsupported image_cond_model {cond_spec.get('name')!r}")
        image_cond = image_cond_model or _load_dinov3(path, cond_spec["args"]["model_name"])
        rembg_spec = args.get("rembg_model") or {}
        rembg = _rembg_factory(path, rembg_spec.get("args", {}).get("model_name"), rembg_model)

    samplers = {k: build_sampler(_require(args, k, config_file)) for k in SAMPLER_KEYS}
    pipe = cls(
        models=models,
        sparse_structure_sampler=samplers["sparse_structure_sampler"],
        shape_slat_sampler=samplers["shape_slat_sampler"],
        tex_slat_sampler=samplers["tex_slat_sampler"],
        sparse_structure_sampler_params=args["sparse_structure_sampler"].get("params", {}),
        shape_slat_sampler_params=args["shape_slat_sampler"].get("params", {}),
        tex_slat_sampler_params=args["tex_slat_sampler"].get("params", {}),
        shape_slat_normalization=_require(args, "shape_slat_normalization", config_file),
        tex_slat_normalization=_require(args, "tex_slat_normalization", config_file),
        image_cond_model=image_cond,
        rembg_model=rembg,
        low_vram=low_vram,
        default_pipeline_type=_default_type(args, pipeline_types),
        random_weights=random_weights,
    )
    if random_weights:
        pipe._device = torch.device(device)
        if pipe.low_vram and pipe._device.type != "cpu":
            pipe.to(device)  # built on the device; low-VRAM mode parks the models on the CPU
    return pipe


def from_pretrained(path: str, config_file: str = "pipeline.json", **kw: Any) -> Any:
    """Dispatch on the `name` in `config_file` (only Trellis2ImageTo3DPipeline so far)."""
    from trellis2.pipelines.trellis2_image_to_3d import Trellis2ImageTo3DPipeline

    classes = {"Trellis2ImageTo3DPipeline": Trellis2ImageTo3DPipeline}
    name = read_json(resolve_file(path, config_file)).get("name")
    if name not in classes:
        raise ValueError(f"{config_file} names pipeline {name!r}; supported: {sorted(classes)}")
    return classes[name].from_pretrained(path, config_file, **kw)
