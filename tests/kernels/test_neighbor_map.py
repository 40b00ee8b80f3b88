# SPDX-License-Identifier: MIT
"""The sort + search neighbour map equals FlexGEMM's (fixture) and a brute-force search."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from trellis2_kernels.neighbor_map import (
    build_neighbor_map,
    build_neighbor_map_ref,
    neighbor_order,
)

from tests.kernels._common import DEVICE, random_voxels, sphere_shell


def test_neighbor_map_equals_flexgemm_fixture(shared_dir):
    io = load_file(str(shared_dir / "fixtures/parity/flexgemm_ops_io.safetensors"))
    got = build_neighbor_map(io["conv.coords"])
    assert got.dtype == torch.int32
    assert torch.equal(got.long(), io["conv.neighbor_map"])


@pytest.mark.parametrize("n", [1, 37, 4097])
def test_neighbor_map_equals_brute_force_on_random_voxels(n):
    coords = random_voxels(n, extent=20 if n > 100 else 5, batches=2, seed=n)
    assert torch.equal(build_neighbor_map(coords), build_neighbor_map_ref(coords))


def test_neighbor_map_never_links_voxels_of_different_batch_items():
    one = torch.tensor([[0, 3, 3, 3]], dtype=torch.int32)
    coords = torch.cat([one, one + torch.tensor([1, 0, 0, 1], dtype=torch.int32)])
    nbr = build_neighbor_map(coords)
    assert nbr[:, 13].tolist() == [0, 1]
    assert (nbr[:, [i for i in range(27) if i != 13]] == -1).all()


def test_neighbor_map_is_symmetric_under_mirrored_offsets():
    nbr = build_neighbor_map(sphere_shell(16)).long()
    rows = torch.arange(len(nbr))
    for v in range(27):
        has = nbr[:, v] >= 0
        assert torch.equal(nbr[nbr[has, v], 26 - v], rows[has])


def test_neighbor_order_is_a_permutation_grouping_equal_masks():
    nbr = build_neighbor_map(sphere_shell(16))
    order = neighbor_order(nbr).long()
    assert torch.equal(order.sort().values, torch.arange(len(nbr)))
    masks = ((nbr[order] >= 0).long() << torch.arange(27)).sum(1)
    # Sorted by Gray rank: equal masks are contiguous, so there are as many runs as masks.
    runs = 1 + int((masks[1:] != masks[:-1]).sum())
    assert runs == masks.unique().numel()


@pytest.mark.gpu
def test_neighbor_map_on_cuda_equals_cpu_for_a_large_shell():
    coords = sphere_shell(256)
    assert torch.equal(build_neighbor_map(coords.to(DEVICE)).cpu(), build_neighbor_map(coords))
