# SPDX-License-Identifier: MIT
"""Build networks on the meta device and fill them from safetensors, or with random weights.

A checkpoint is `{path}.json` ({"name": <class>, "args": {constructor kwargs}}) plus
`{path}.safetensors`. Loading never leaves a layer random: every parameter must come from the
file (with its exact shape), the file may hold nothing else, and the only keys allowed to be
absent are buffers the model recomputes (`computed_buffers`, e.g. the complex `rope_phases`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .remap import remap_state_dict
from .safetensors_io import read_safetensors


class CheckpointError(RuntimeError):
    """A checkpoint file does not fit the network its JSON describes."""


def _registry() -> dict[str, type[nn.Module]]:
    from . import MODEL_CLASSES

    return MODEL_CLASSES


def model_class(name: str) -> type[nn.Module]:
    try:
        return _registry()[name]
    except KeyError:
        raise CheckpointError(
            f"unknown model class {name!r}; known: {sorted(_registry())}"
        ) from None


def build_meta(name: str, args: Mapping[str, Any]) -> nn.Module:
    """Construct ``name(**args)`` on the meta device (no memory, precision conversion applied)."""
    cls = model_class(name)
    with torch.device("meta"):
        return cls(**dict(args))


def reset_computed_buffers(model: nn.Module) -> None:
    for m in model.modules():
        if getattr(m, "computed_buffers", None) and hasattr(m, "reset_computed_buffers"):
            m.reset_computed_buffers()


def _computed_keys(model: nn.Module) -> set[str]:
    keys = set()
    for prefix, m in model.named_modules():
        for b in getattr(m, "computed_buffers", ()):
            keys.add(f"{prefix}.{b}" if prefix else b)
    return keys


def load_state_dict_checked(
    model: nn.Module, state: Mapping[str, torch.Tensor], source: str
) -> nn.Module:
    """Assign ``state`` into a (meta-built) model after checking names and shapes exactly."""
    state = remap_state_dict(type(model).__name__, dict(state))
    expected = model.state_dict()
    computed = _computed_keys(model)
    state = {k: v for k, v in state.items() if k not in computed}
    missing = sorted(set(expected) - set(state) - computed)
    unexpected = sorted(set(state) - set(expected))
    mismatched = sorted(
        f"{k}: file {tuple(state[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in set(state) & set(expected)
        if tuple(state[k].shape) != tuple(expected[k].shape)
    )
    if missing or unexpected or mismatched:
        parts = [f"checkpoint {source} does not match {type(model).__name__}:"]
        for label, items in (
            ("missing", missing),
            ("unexpected", unexpected),
            ("shape mismatch", mismatched),
        ):
            if items:
                more = f", ... ({len(items)} total)" if len(items) > 12 else ""
                shown = ", ".join(items[:12]) + more
                parts.append(f"  {label}: {shown}")
        parts.append("  check that the .json args belong to this .safetensors file")
        raise CheckpointError("\n".join(parts))
    cast = {k: v.to(expected[k].dtype) for k, v in state.items()}
    result = model.load_state_dict(cast, strict=False, assign=True)
    left = sorted(set(result.missing_keys) - computed)
    if left or result.unexpected_keys:  # cannot happen after the check above; never silent
        raise CheckpointError(f"{source}: load left {left} / {result.unexpected_keys}")
    reset_computed_buffers(model)
    return model


def _resolve(path: str | Path) -> tuple[Path, Path]:
    json_path, st_path = Path(f"{path}.json"), Path(f"{path}.safetensors")
    if json_path.is_file() and st_path.is_file():
        return json_path, st_path
    parts = str(path).split("/")
    if len(parts) >= 3 and not Path(parts[0]).exists():
        try:
            from huggingface_hub import hf_hub_download
        except ImportError:
            hf_hub_download = None
        if hf_hub_download is not None:
            repo, sub = "/".join(parts[:2]), "/".join(parts[2:])
            try:
                j = hf_hub_download(repo, f"{sub}.json")
                s = hf_hub_download(repo, f"{sub}.safetensors")
            except Exception as exc:
                raise CheckpointError(
                    f"could not fetch {sub}.json/.safetensors from the hub repo {repo}: {exc}. "
                    "Gated repos need a token: run `huggingface-cli login` or set HF_TOKEN."
                ) from exc
            return Path(j), Path(s)
    missing = [str(p) for p in (json_path, st_path) if not p.is_file()]
    raise FileNotFoundError(
        f"checkpoint not found: {', '.join(missing)}; pass the path without extension "
        "(e.g. <weights>/ckpts/ss_flow_img_dit_1_3B_64_bf16) or an owner/repo/sub/path hub id"
    )


def from_pretrained(
    path: str | Path, device: str | torch.device = "cpu", **override_args: Any
) -> nn.Module:
    """Load `{path}.json` + `{path}.safetensors` (memory-mapped) into a meta-built network.

    ``override_args`` replace constructor kwargs from the JSON (e.g. dtype="float32").
    """
    json_path, st_path = _resolve(path)
    config = json.loads(json_path.read_text())
    try:
        name, args = config["name"], dict(config["args"])
    except (KeyError, TypeError):
        raise CheckpointError(f"{json_path} must be {{'name': <class>, 'args': {{...}}}}") from None
    args.update(override_args)
    try:
        model = build_meta(name, args)
    except TypeError as exc:  # an arg this implementation does not know
        raise CheckpointError(f"{json_path}: cannot build {name} from its args: {exc}") from exc
    load_state_dict_checked(model, read_safetensors(st_path, device), str(st_path))
    return model.eval()


def _fan_in(p: torch.Tensor) -> int:
    return max(1, p.numel() // p.shape[0]) if p.dim() > 1 else 1


def default_random_init(name: str, p: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """fp32 values for parameter ``name``: O(1) activations through deep stacks (bench use)."""
    device = p.device
    leaf = name.rsplit(".", 1)[-1]

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, device=device, dtype=torch.float32)

    if leaf == "gamma" or (leaf == "weight" and p.dim() == 1):  # norm scales
        return 1 + 0.05 * randn(*p.shape)
    if leaf == "bias":
        return 0.02 * randn(*p.shape)
    if leaf == "modulation":
        return 0.1 * randn(*p.shape)
    return randn(*p.shape) / math.sqrt(_fan_in(p))


def with_precision(args: Mapping[str, Any], dtype: str | torch.dtype) -> dict[str, Any]:
    """``args`` with the trunk precision set to ``dtype`` (flows: `dtype`; VAEs: `use_fp16`)."""
    from ..modules.utils import str_to_dtype

    dt = str_to_dtype(dtype)
    out = dict(args)
    if isinstance(out.get("model_channels"), int):  # the flow transformers
        out["dtype"] = str(dt).removeprefix("torch.")
        out.pop("use_fp16", None)
    else:
        if dt == torch.bfloat16:
            raise ValueError("the SC-VAE / SS decoders run fp16 or fp32 trunks, not bf16")
        out["use_fp16"] = dt == torch.float16
    return out


def build_random(
    name: str,
    args: Mapping[str, Any],
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    seed: int = 0,
    init: Callable[[str, torch.Tensor, torch.Generator], torch.Tensor] = default_random_init,
) -> nn.Module:
    """Full-size architecture with random weights, for benchmarks only (never for results).

    meta build -> ``to_empty(device)`` -> fp32 values from a seeded generator cast to each
    parameter's dtype -> computed buffers. ``dtype`` overrides the config's trunk precision.
    The model gets ``random_weights = True``.
    """
    if dtype is not None:
        args = with_precision(args, dtype)
    model = build_meta(name, args)
    model.to_empty(device=device)
    gen = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            p.copy_(init(pname, p, gen).to(p.dtype))
    reset_computed_buffers(model)
    model.random_weights = True  # type: ignore[attr-defined]
    return model.eval()
