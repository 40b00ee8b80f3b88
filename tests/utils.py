# SPDX-License-Identifier: MIT
"""Assertion helpers shared by the test folders."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest
import torch


def missing_tool(message: str) -> NoReturn:
    """Skip a test whose external tool is not installed here, but fail under CI: CI installs
    every tool itself, so a skip there would hide a broken setup."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def diff_stats(actual: torch.Tensor, expected: torch.Tensor) -> dict[str, float]:
    """Max abs error and max relative error (|a - e| / (|e| + 1e-3 * max|e|), as the fixtures)."""
    a, e = actual.detach().double().cpu(), expected.detach().double().cpu()
    err = (a - e).abs()
    denom = e.abs() + 1e-3 * e.abs().max().clamp_min(1e-30)
    return {
        "max_abs": float(err.max()) if err.numel() else 0.0,
        "max_rel": float((err / denom).max()) if err.numel() else 0.0,
    }


def assert_verbose_allclose(
    actual: torch.Tensor,
    expected: torch.Tensor,
    *,
    atol: float = 1e-4,
    rtol: float = 1e-4,
    name: str = "tensor",
    max_print: int = 5,
) -> None:
    """torch.allclose semantics, but a failure says how many elements differ, by how much, where.

    NaN/Inf count as mismatches unless both sides hold the same non-finite value.
    """
    if actual.shape != expected.shape:
        raise AssertionError(
            f"{name}: shape {tuple(actual.shape)} != expected {tuple(expected.shape)}"
        )
    a, e = actual.detach().cpu(), expected.detach().cpu()
    if a.dtype == torch.bool or not a.is_floating_point():
        bad = a != e
        if bad.any():
            where = bad.nonzero()[:max_print].tolist()
            raise AssertionError(
                f"{name}: {int(bad.sum())} of {a.numel()} elements differ (exact compare); "
                f"first at {where}: got {[a[tuple(i)].item() for i in where]}, "
                f"expected {[e[tuple(i)].item() for i in where]}"
            )
        return
    a, e = a.double(), e.double()
    same_nonfinite = (a == e) & ~torch.isfinite(e)
    err = (a - e).abs()
    bad = ~(err <= atol + rtol * e.abs()) & ~same_nonfinite
    if bad.any():
        s = diff_stats(a, e)
        idx = torch.argsort(err.nan_to_num(float("inf")).flatten(), descending=True)[:max_print]
        where = [tuple(torch.unravel_index(i, a.shape)) for i in idx]
        lines = [
            f"  at {tuple(int(j) for j in w)}: got {a[w].item():.6g}, expected {e[w].item():.6g}"
            for w in where
        ]
        raise AssertionError(
            f"{name}: {int(bad.sum())} of {a.numel()} elements exceed atol={atol} rtol={rtol}; "
            f"max abs {s['max_abs']:.3g}, max rel {s['max_rel']:.3g}\n" + "\n".join(lines)
        )


def ovoxel_mesh(ov: object, grid: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The O-Voxel's extracted mesh (vertices [V, 3], faces [F, 3]) in the unit aabb at `grid`
    (`ov` has numpy coords, dual_vertices and intersected, as build_ovoxel/asset_to_ovoxel give)."""
    from trellis2.representations.o_voxel import flexible_dual_grid_to_mesh

    return flexible_dual_grid_to_mesh(
        torch.from_numpy(ov.coords),  # type: ignore[attr-defined]
        torch.from_numpy(ov.dual_vertices),  # type: ignore[attr-defined]
        torch.from_numpy(ov.intersected),  # type: ignore[attr-defined]
        None,
        [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]],
        grid_size=grid,
    )
