# SPDX-License-Identifier: MIT
"""Tiny flow models, sparse batches and a host-read counter shared by the module tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from trellis2.models import build_random
from trellis2.modules.sparse import SparseTensor

# Small enough for 2 CI cores; heads of 16 channels keep RoPE's padding pair (16 // 2 = 8 = 3*2+2).
ARGS = {
    "resolution": 8,
    "in_channels": 8,
    "out_channels": 8,
    "model_channels": 64,
    "cond_channels": 16,
    "num_blocks": 2,
    "num_heads": 4,
    "pe_mode": "rope",
    "share_mod": True,
    "qk_rms_norm": True,
    "qk_rms_norm_cross": True,
}


def tiny_model(name: str, **overrides: object) -> torch.nn.Module:
    return build_random(name, {**ARGS, **overrides}, seed=7).eval()


def sample_coords(n: int, seed: int, batch: int = 0) -> torch.Tensor:
    """n distinct voxels of an 8^3 grid (random subset, lexicographic), batch index ``batch``."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randperm(512, generator=gen)[:n].sort().values
    xyz = torch.stack([idx // 64, (idx // 8) % 8, idx % 8], dim=1)
    return torch.cat([torch.full((n, 1), batch), xyz], dim=1).to(torch.int32)


def packed(lengths: list[int], channels: int = 8, seed: int = 0) -> SparseTensor:
    """A packed batch with ``lengths[b]`` voxels in item b (different voxels per item)."""
    coords = torch.cat([sample_coords(n, seed + b, b) for b, n in enumerate(lengths)])
    gen = torch.Generator().manual_seed(seed + 100)
    return SparseTensor(torch.randn(len(coords), channels, generator=gen), coords)


# aten ops that make a CUDA host wait for the device (value reads, data-dependent shapes).
_SYNC_OPS = ("_local_scalar_dense", "nonzero", "unique", "bincount", "masked_select", "item")


class HostReads(TorchDispatchMode):
    """Counts ops that would read device values back to the host (on CPU they are free, but on
    CUDA each is a sync), plus ``Tensor.tolist`` calls, which do not go through dispatch."""

    def __init__(self) -> None:
        super().__init__()
        self.ops: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func.__name__.split(".")[0]  # "op.overload" -> "op"
        if any(name.startswith(op) for op in _SYNC_OPS):
            self.ops.append(name)
        return func(*args, **(kwargs or {}))


@contextmanager
def count_host_reads(monkeypatch) -> Iterator[HostReads]:
    mode = HostReads()
    tolist = torch.Tensor.tolist

    def counted_tolist(self: torch.Tensor):
        mode.ops.append("tolist")
        return tolist(self)

    monkeypatch.setattr(torch.Tensor, "tolist", counted_tolist)
    with mode:
        yield mode
    monkeypatch.setattr(torch.Tensor, "tolist", tolist)
