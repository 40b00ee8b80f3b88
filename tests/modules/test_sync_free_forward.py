# SPDX-License-Identifier: MIT
"""A warm sparse flow forward reads nothing back from the device (CUDA graphs capture it):
everything data-dependent is computed once per voxel set and cached on the SparseTensor."""

from __future__ import annotations

import warnings

import pytest
import torch

from tests.modules._helpers import count_host_reads, packed, tiny_model
from trellis2 import perf
from trellis2.modules.sparse import SparseTensor


@pytest.mark.parametrize("lengths", [[33], [30, 30], [40, 25]])
def test_warm_sparse_flow_forward_makes_no_host_reads(lengths, monkeypatch):
    model = tiny_model("SLatFlowModel")
    gen = torch.Generator().manual_seed(1)
    x = packed(lengths)
    t = torch.full((len(lengths),), 500.0)
    cond = torch.randn(len(lengths), 5, 16, generator=gen)
    with perf.use(perf.DEFAULT):
        model(x, t, cond)  # cold: layout, offsets and RoPE phases are computed and cached
        with count_host_reads(monkeypatch) as reads:
            model(x.replace(torch.randn(x.feats.shape, generator=gen)), t, cond)
    assert reads.ops == []


def test_warm_dense_flow_forward_makes_no_host_reads(monkeypatch):
    model = tiny_model("SparseStructureFlowModel")
    gen = torch.Generator().manual_seed(1)
    x, cond = torch.randn(2, 8, 8, 8, 8, generator=gen), torch.randn(2, 5, 16, generator=gen)
    with perf.use(perf.DEFAULT), count_host_reads(monkeypatch) as reads:
        model(x, torch.tensor([100.0, 900.0]), cond)
    assert reads.ops == []


@pytest.mark.gpu
@pytest.mark.parametrize("lengths", [[300, 300], [300, 170]])
def test_warm_bf16_sparse_flow_forward_on_cuda_never_synchronizes(lengths):
    """CUDA's sync debug mode raises on any synchronizing call (value reads, blocking copies)."""
    model = tiny_model("SLatFlowModel", dtype="bfloat16").cuda()
    coords = torch.cat([_shell_coords(n, b) for b, n in enumerate(lengths)]).cuda()
    gen = torch.Generator(device="cuda").manual_seed(0)
    x = SparseTensor(torch.randn(len(coords), 8, generator=gen, device="cuda"), coords)
    t = torch.full((len(lengths),), 500.0, device="cuda")
    cond = torch.randn(len(lengths), 5, 16, generator=gen, device="cuda")
    model(x, t, cond)  # cold: caches, kernel self-checks, autotuning
    torch.cuda.synchronize()
    try:
        _set_sync_debug_mode("error")
        model(x.replace(x.feats * 0.5), t, cond)
    finally:
        _set_sync_debug_mode("default")
    torch.cuda.synchronize()


def _set_sync_debug_mode(mode: str) -> None:
    # The switch warns that it is a prototype; under filterwarnings=error that warning used to
    # escape after the mode was set, leaving every later test of the session in "error" mode.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        torch.cuda.set_sync_debug_mode(mode)


def _shell_coords(n: int, batch: int) -> torch.Tensor:
    """n distinct voxels of a 16^3 grid for batch item ``batch`` (int32 [n, 4])."""
    idx = torch.arange(n) * 7 % 4096  # 7 is coprime to 4096: distinct cells
    xyz = torch.stack([idx // 256, (idx // 16) % 16, idx % 16], dim=1)
    return torch.cat([torch.full((n, 1), batch), xyz], dim=1).to(torch.int32)
