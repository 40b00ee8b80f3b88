# SPDX-License-Identifier: MIT
"""The Triton UV rasteriser equals the torch reference: same face per texel (ties on shared edges
included), same barycentrics."""

from __future__ import annotations

import pytest
import torch
from trellis2_kernels.uv_raster import rasterize_planes_triton

from tests.kernels._common import DEVICE
from trellis2.postprocess.rasterize import rasterize_uv


def chart_grid(cells: int, x0: float, y0: float, size: float, jitter: float, g, snap: int = 0):
    """A chart: a (cells + 1)^2 vertex grid over a square, interior vertices jittered, each cell
    split into 2 triangles (so neighbours share edges). snap > 0 puts vertices on texel centres
    of a snap-sized texture, so edges run exactly through texel centres (tie cases)."""
    t = torch.linspace(0, 1, cells + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    xy = torch.stack([xx, yy], -1).reshape(-1, 2)
    interior = ((xy > 0) & (xy < 1)).all(1, keepdim=True)
    xy = xy + interior * (torch.rand(xy.shape, generator=g, dtype=torch.float64) - 0.5) * jitter
    uv = torch.tensor([x0, y0], dtype=torch.float64) + xy * size
    if snap:
        uv = (torch.round(uv * snap - 0.5) + 0.5) / snap
    i = torch.arange(cells)
    a = (i[:, None] * (cells + 1) + i[None, :]).reshape(-1)
    b, c, d = a + 1, a + cells + 1, a + cells + 2
    alt = torch.rand(a.shape, generator=g) < 0.5  # both diagonal directions
    f1 = torch.where(alt[:, None], torch.stack([a, b, d], 1), torch.stack([a, b, c], 1))
    f2 = torch.where(alt[:, None], torch.stack([a, d, c], 1), torch.stack([b, d, c], 1))
    return uv.float(), torch.cat([f1, f2])


def merge(parts):
    uvs, faces, off = [], [], 0
    for uv, f in parts:
        uvs.append(uv)
        faces.append(f + off)
        off += len(uv)
    return torch.cat(uvs), torch.cat(faces)


def small_atlas(seed: int):
    """~50 faces on 32x32: snapped and free charts, loose triangles (one poking out of [0, 1]),
    a degenerate face; face order shuffled so the tie winner is not the last-listed face."""
    g = torch.Generator().manual_seed(seed)
    parts = [
        chart_grid(3, 0.05, 0.05, 0.4, 0.5, g, snap=32),
        chart_grid(2, 0.55, 0.1, 0.35, 0.6, g),
        chart_grid(2, 0.1, 0.55, 0.3, 0.0, g, snap=32),
    ]
    loose = torch.rand(6, 3, 2, generator=g) * 0.12 + torch.tensor([0.55, 0.55])
    loose[:, 1:] += torch.rand(6, 2, 2, generator=g) * 0.3
    loose[0] = torch.tensor([[0.9, 0.9], [1.1, 0.95], [0.95, 1.2]])  # clipped by the bbox clamp
    loose[1] = torch.tensor([[0.6, 0.6], [0.7, 0.7], [0.8, 0.8]])  # zero area
    parts.append((loose.reshape(-1, 2), torch.arange(18).reshape(6, 3)))
    uvs, faces = merge(parts)
    faces = faces[torch.randperm(len(faces), generator=g)]
    return uvs, faces


def assert_same_raster(got, want):
    fid, bary = got
    fid_ref, bary_ref = want
    assert fid.dtype == torch.int64 and bary.dtype == torch.float32
    diff = (fid != fid_ref).sum().item()
    assert diff == 0, f"{diff} texels differ in face id"
    err = (bary - bary_ref).abs().max().item()
    assert err <= 1e-5, f"barycentrics differ by {err}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_triton_uv_raster_equals_torch_reference_on_a_small_atlas(seed):
    uvs, faces = small_atlas(seed)
    uvs, faces = uvs.to(DEVICE), faces.to(DEVICE)
    want = rasterize_uv(uvs, faces, 32, 32, backend="torch")
    got = rasterize_uv(uvs, faces, 32, 32, backend="triton")
    assert (want[0] >= 0).sum() > 200  # the atlas really covers texels
    assert_same_raster(got, want)


def test_triton_uv_raster_resolves_a_shared_edge_through_texel_centres_like_torch():
    # Two triangles split the square along its diagonal, which passes through texel centres.
    uvs = torch.tensor([[0.5, 0.5], [7.5, 0.5], [7.5, 7.5], [0.5, 7.5]]) / 8
    for faces in (torch.tensor([[0, 1, 2], [0, 2, 3]]), torch.tensor([[0, 2, 3], [0, 1, 2]])):
        uvs_d, faces_d = uvs.to(DEVICE), faces.to(DEVICE)
        want = rasterize_uv(uvs_d, faces_d, 8, 8, backend="torch")
        got = rasterize_uv(uvs_d, faces_d, 8, 8, backend="triton")
        assert_same_raster(got, want)
        diag = got[0].diagonal().cpu()
        assert (diag == 1).all()  # the higher face id owns the shared edge


def test_triton_uv_raster_returns_empty_maps_without_faces():
    empty = torch.zeros((0, 6)), torch.zeros((0, 2), dtype=torch.int64)
    fid, bary = rasterize_planes_triton(*empty, torch.zeros(0), torch.zeros(0), 4, 5)
    assert fid.shape == (4, 5) and (fid == -1).all() and (bary == 0).all()


@pytest.mark.gpu
def test_triton_uv_raster_equals_torch_reference_on_cuda_at_2048():
    g = torch.Generator().manual_seed(0)
    uvs, faces = chart_grid(316, 0.0, 0.0, 1.0, 0.6, g)  # ~200k faces sharing edges
    faces = faces[torch.randperm(len(faces), generator=g)]
    uvs, faces = uvs.cuda(), faces.cuda()
    want = rasterize_uv(uvs, faces, 2048, 2048, backend="torch")
    got = rasterize_uv(uvs, faces, 2048, 2048, backend="triton")
    assert_same_raster(got, want)
