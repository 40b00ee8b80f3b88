# SPDX-License-Identifier: MIT
"""Least-squares voxel attributes (o_voxel.attr_fit) against point sampling."""

from __future__ import annotations

import numpy as np
import torch

from trellis2.representations.o_voxel.attr_fit import fit_attributes, trilinear_matrix
from trellis2.representations.o_voxel.grid_sample import sample_attrs

RES = 16
ORIGIN = torch.tensor([-0.5, -0.5, -0.5])


def _stripes(p: torch.Tensor) -> torch.Tensor:
    """Colour [L, 3] of a pattern with stripes 0.4 voxel wide along x (finer than the grid)."""
    on = (torch.floor(p[:, 0] * RES / 0.4) % 2).float()
    return torch.stack([on, 1.0 - on, torch.full_like(on, 0.5)], 1)


def _plane_voxels() -> tuple[torch.Tensor, torch.Tensor]:
    """Voxels around the plane z = 0.013 (two layers) and the plane's points at their centres."""
    i, j = torch.meshgrid(torch.arange(RES), torch.arange(RES), indexing="ij")
    k = int((0.013 + 0.5) * RES)
    ij = torch.stack([i.reshape(-1), j.reshape(-1)], 1)
    coords = torch.cat([torch.cat([ij, torch.full((len(ij), 1), kk)], 1) for kk in (k - 1, k)])
    centres = (coords.float() + 0.5) / RES - 0.5
    centres[:, 2] = 0.013
    return coords, centres


def test_trilinear_matrix_rows_are_the_bakes_trilinear_weights() -> None:
    coords, _ = _plane_voxels()
    feats = torch.rand(len(coords), 4, generator=torch.Generator().manual_seed(0))
    pts = torch.rand(500, 3, generator=torch.Generator().manual_seed(1)) - 0.5
    pts[:, 2] = 0.013
    a = trilinear_matrix(coords, pts, ORIGIN, 1.0 / RES, (RES,) * 3)
    expected = sample_attrs(feats, coords, pts, ORIGIN, 1.0 / RES)
    torch.testing.assert_close(a @ feats, expected, atol=1e-5, rtol=1e-5)


def test_fitted_attributes_match_sub_voxel_stripes_better_than_point_samples() -> None:
    coords, centres = _plane_voxels()
    x0 = _stripes(centres)  # point sampling at the surface point closest to each centre
    gen = torch.Generator().manual_seed(2)
    pts = torch.rand(20 * len(coords), 3, generator=gen) * 0.98 - 0.49
    pts[:, 2] = 0.013
    fitted = fit_attributes(coords, x0, pts, _stripes(pts), ORIGIN, 1.0 / RES, (RES,) * 3)
    test = torch.rand(20_000, 3, generator=gen) * 0.98 - 0.49
    test[:, 2] = 0.013

    def mse(attrs: torch.Tensor) -> float:
        return float(
            ((sample_attrs(attrs, coords, test, ORIGIN, 1.0 / RES) - _stripes(test)) ** 2).mean()
        )

    assert fitted.min() >= 0.0 and fitted.max() <= 1.0
    # Stripes narrower than a voxel: the best trilinear field is close to their average, point
    # samples alias to full-contrast blotches.
    assert mse(fitted) < 0.7 * mse(x0), (mse(fitted), mse(x0))
    np.testing.assert_allclose(fitted[:, 2].numpy(), 0.5, atol=1e-4)  # flat channel stays put
