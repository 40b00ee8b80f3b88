# SPDX-License-Identifier: MIT
"""The fast chart atlas keeps stacked surface layers of one chart apart in UV space.

Regression for issue 4 (kenney_platformer_character at 21.7 dB): the panel glued on the
character's chest, its bevel and the hidden chest face under it formed one -Y chart, whose planar
projection put the hidden face's texels on top of the panel's, so the bake painted the chest's
colour over the panel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from fidelity_errors import texel_coverage

from trellis2.postprocess.uv import chart_atlas


def _grid(n: int, x0: float, x1: float, z0: float, z1: float) -> tuple[np.ndarray, np.ndarray]:
    """(vertices [(n+1)^2, 3], faces [2n^2, 3]) of a strip over y ∈ [0, 1], x from x0 to x1 with
    z linear in x; winding so the normal points to +Z whatever the direction of x."""
    t = np.linspace(0.0, 1.0, n + 1)
    x, y = np.meshgrid(x0 + (x1 - x0) * t, t, indexing="ij")
    z = z0 + (z1 - z0) * (x - x0) / (x1 - x0)
    v = np.stack([x, y, z], -1).reshape(-1, 3)
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    a = (i * (n + 1) + j).reshape(-1)
    b, c, d = a + n + 1, a + 1, a + n + 2
    f = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    if x1 < x0:
        f = f[:, ::-1]
    return v, f


def _stacked_layers(n: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Two +Z-facing layers 0.25 apart (x ∈ [0, 1]) joined on the x = 1 side by two gentle
    ramps (out to x = 2 and back), all faces +Z-dominant: one connected +Z chart."""
    parts = [
        _grid(n, 0.0, 1.0, 0.0, 0.0),  # top layer
        _grid(n, 1.0, 2.0, 0.0, -0.125),  # ramp out
        _grid(n, 2.0, 1.0, -0.125, -0.25),  # ramp back (under the first)
        _grid(n, 1.0, 0.0, -0.25, -0.25),  # bottom layer (under the top)
    ]
    verts, faces, off = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + off)
        off += len(v)
    v = np.concatenate(verts)
    f = np.concatenate(faces)
    # Weld the seams so the parts share edges (one chart before the fix).
    key, inv = np.unique(np.round(v, 6), axis=0, return_inverse=True)
    return key.astype(np.float32), inv.reshape(-1)[f]


def test_chart_atlas_gives_stacked_layers_of_one_chart_separate_texels() -> None:
    v, f = _stacked_layers()
    atlas = chart_atlas(v, f, texture_size=256, split_stacked=True)
    cover = texel_coverage(atlas.uvs, atlas.faces, 256)
    covered = int((cover > 0).sum())
    assert covered > 0.2 * 256 * 256  # the charts fill the square (the check is meaningful)
    # Before the split ~100 % of the texels were covered twice; what is left is the sliver next
    # to the fold where the two ramps are closer than a quarter edge (same colour there).
    overlap = int((cover > 1).sum())
    assert overlap < 0.02 * covered, f"{overlap} of {covered} texels are covered twice"


def test_chart_atlas_leaves_a_single_layer_in_one_chart() -> None:
    v, f = _grid(16, 0.0, 1.0, 0.0, 0.3)
    atlas = chart_atlas(v.astype(np.float32), f, texture_size=256, split_stacked=True)
    assert len(atlas.uvs) == len(v)  # no seam: one chart, vertices not split
    assert int((texel_coverage(atlas.uvs, atlas.faces, 256) > 1).sum()) == 0
