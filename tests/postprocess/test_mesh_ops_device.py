# SPDX-License-Identifier: MIT
"""`Mesh.fill_holes` / `Mesh.simplify` keep a CUDA mesh on the GPU (torch paths) and agree with
the CPU (numpy) paths."""

from __future__ import annotations

import math

import pytest
import torch

from trellis2.representations.mesh import Mesh


def _holed_sphere(n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    """A UV sphere with a few single faces removed (small holes: triangle loops)."""
    th = torch.linspace(0, math.pi, n)
    ph = torch.linspace(0, 2 * math.pi, n + 1)[:-1]
    t, p = torch.meshgrid(th[1:-1], ph, indexing="ij")
    ring = torch.stack([t.sin() * p.cos(), t.sin() * p.sin(), t.cos()], -1).reshape(-1, 3)
    # Radius 0.05: a one-face hole has a perimeter of ~0.02, under the 3e-2 default limit.
    v = torch.cat([ring, torch.tensor([[0.0, 0, 1], [0.0, 0, -1]])]) * 0.05
    rows, cols = n - 2, n
    idx = torch.arange(rows * cols).reshape(rows, cols)
    a, b = idx[:-1], torch.roll(idx[:-1], -1, 1)
    c, d = idx[1:], torch.roll(idx[1:], -1, 1)
    quads = torch.cat(
        [torch.stack([a, c, b], -1).reshape(-1, 3), torch.stack([b, c, d], -1).reshape(-1, 3)]
    )
    top, bot = rows * cols, rows * cols + 1
    caps = torch.cat(
        [
            torch.stack([torch.full((cols,), top), idx[0], torch.roll(idx[0], -1)], 1),
            torch.stack([torch.full((cols,), bot), torch.roll(idx[-1], -1), idx[-1]], 1),
        ]
    )
    f = torch.cat([quads, caps])
    keep = torch.ones(len(f), dtype=torch.bool)
    keep[[100, 900, 1700]] = False
    return v.float(), f[keep].long()


def test_fill_holes_on_cpu_closes_the_small_holes() -> None:
    v, f = _holed_sphere()
    m = Mesh(v.clone(), f.clone())
    m.fill_holes()
    assert m.faces.shape[0] == f.shape[0] + 3 * 3  # three triangle holes, fanned with 3 faces


@pytest.mark.gpu
def test_fill_holes_and_simplify_on_cuda_stay_on_the_gpu_and_match_cpu() -> None:
    v, f = _holed_sphere()
    cpu, gpu = Mesh(v.clone(), f.clone()), Mesh(v.cuda(), f.cuda())
    cpu.fill_holes()
    gpu.fill_holes()
    assert gpu.faces.is_cuda and gpu.faces.shape == cpu.faces.shape
    gpu.simplify(target=1000)
    assert gpu.faces.is_cuda and gpu.vertices.is_cuda
    assert 900 <= gpu.faces.shape[0] <= 1000
