# SPDX-License-Identifier: MIT
"""A warm sparse flow forward reads nothing back from the device (CUDA graphs capture it):
everything data-dependent is computed once per voxel set and cached on the SparseTensor."""

from __future__ import annotations

import pytest
import torch

from tests.modules._helpers import count_host_reads, packed, tiny_model
from trellis2 import perf


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
