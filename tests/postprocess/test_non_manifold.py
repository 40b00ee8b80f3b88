# SPDX-License-Identifier: MIT
"""Non-manifold edge repair keeps every face: parts that touch along an edge are split apart
(vertices duplicated), each staying closed, and the torch path matches the numpy path."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trellis2.postprocess.cleanup import clean_mesh, repair_non_manifold_edges


def voxel_surface(cells: list[tuple[int, int, int]]) -> tuple[np.ndarray, np.ndarray]:
    """Outward-oriented boundary of a set of unit voxels (two triangles per exposed voxel face),
    vertices welded on the integer grid: touching blobs share vertices, as in an O-Voxel mesh."""
    occ = set(cells)
    tris = []
    for cell in cells:
        for a in range(3):
            b, c = (a + 1) % 3, (a + 2) % 3
            for s in (-1, 1):
                nb = list(cell)
                nb[a] += s
                if tuple(nb) in occ:
                    continue
                base = np.array(cell, float)
                base[a] += s > 0
                eb, ec = np.eye(3)[b], np.eye(3)[c]
                p = [base, base + eb, base + eb + ec, base + ec]  # (p0, p1, p2) has normal +e_a
                quad = [(p[0], p[1], p[2]), (p[0], p[2], p[3])]
                tris += quad if s > 0 else [t[::-1] for t in quad]
    pts = np.array(tris).reshape(-1, 3)
    v, inv = np.unique(pts, axis=0, return_inverse=True)
    return v.astype(np.float32), inv.reshape(-1, 3).astype(np.int64)


def book_of_fins(n: int) -> tuple[np.ndarray, np.ndarray]:
    """n triangles sharing the edge (0,0,0)-(0,0,1), fanned around it like pages of a book."""
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False) + 0.3
    tips = np.stack([np.cos(ang), np.sin(ang), np.full(n, 0.5)], 1)
    v = np.concatenate([[[0, 0, 0], [0, 0, 1]], tips]).astype(np.float32)
    f = np.array([[0, 1, 2 + i] if i % 2 else [1, 0, 2 + i] for i in range(n)], np.int64)
    return v, f


def edge_use(f: np.ndarray) -> np.ndarray:
    e = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    return np.unique(e, axis=0, return_counts=True)[1]


def sorted_faces_as_points(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Faces as sorted rows of corner positions: comparable across vertex splitting."""
    p = np.asarray(v, np.float64)[np.asarray(f)]  # [F, 3, 3]
    return np.array(sorted(tuple(sorted(map(tuple, tri))) for tri in p.tolist()))


TWO_BOXES_ON_AN_EDGE = [(0, 0, 0), (1, 1, 0)]
TWO_RODS_ON_A_LINE = [(0, 0, 0), (0, 0, 1), (1, 1, 0), (1, 1, 1)]  # 2 non-manifold edges in a row
TWO_BOX_PAIRS = [(0, 0, 0), (1, 1, 0), (3, 0, 0), (4, 1, 0)]
CHECKER_2X2 = [(0, 0, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1)]  # 6 edges with 4 faces, 1 bowtie


@pytest.mark.parametrize(
    "cells",
    [TWO_BOXES_ON_AN_EDGE, TWO_RODS_ON_A_LINE, CHECKER_2X2],
    ids=["two_boxes_on_an_edge", "two_rods_on_a_line", "checker_2x2"],
)
def test_voxel_blobs_touching_along_edges_keep_all_faces_and_stay_closed(cells):
    v, f = voxel_surface(cells)
    assert edge_use(f).max() == 4  # the input really is non-manifold
    v2, f2 = repair_non_manifold_edges(v, f)
    assert len(f2) == len(f)
    use = edge_use(f2)
    assert use.max() == 2 and use.min() == 2  # no edge over-used, no boundary opened
    assert len(np.unique(np.sort(f2, axis=1), axis=0)) == len(f2)  # no duplicate faces
    np.testing.assert_array_equal(sorted_faces_as_points(v2, f2), sorted_faces_as_points(v, f))


@pytest.mark.parametrize("n", [3, 4, 5])
def test_a_book_of_fins_keeps_every_page(n):
    v, f = book_of_fins(n)
    v2, f2 = repair_non_manifold_edges(v, f)
    assert len(f2) == n
    assert edge_use(f2).max() <= 2
    np.testing.assert_array_equal(sorted_faces_as_points(v2, f2), sorted_faces_as_points(v, f))


def test_half_inverted_faces_still_end_with_two_faces_per_edge():
    """Inconsistent orientation misleads the angular pairing; the later passes still leave no
    edge with more than two faces and drop nothing."""
    v, f = voxel_surface(TWO_BOXES_ON_AN_EDGE)
    f = f.copy()
    f[: len(f) // 2] = f[: len(f) // 2, ::-1]
    _, f2 = repair_non_manifold_edges(v, f)
    assert len(f2) == len(f) and edge_use(f2).max() <= 2


def random_voxels(n: int = 12, fill: float = 0.45, seed: int = 1):
    rng = np.random.default_rng(seed)
    return voxel_surface([tuple(c) for c in np.argwhere(rng.random((n, n, n)) < fill).tolist()])


def test_random_voxels_with_pinches_come_out_closed_with_every_face():
    """Random voxels touch along edges whose endpoints also join the parts elsewhere (pinches
    that the angular pairing alone cannot split): the fan cut still closes them."""
    v, f = random_voxels()
    assert (edge_use(f) > 2).sum() > 100
    v2, f2 = repair_non_manifold_edges(v, f)
    assert len(f2) == len(f)
    assert edge_use(f2).max() == 2 and edge_use(f2).min() == 2
    np.testing.assert_array_equal(sorted_faces_as_points(v2, f2), sorted_faces_as_points(v, f))


@pytest.mark.parametrize(
    "make",
    [
        lambda: voxel_surface([*TWO_BOX_PAIRS, (0, 0, 1), (2, 2, 2)]),
        lambda: voxel_surface(CHECKER_2X2),
        lambda: book_of_fins(5),
        random_voxels,
    ],
    ids=["boxes", "checker", "fins", "random_voxels"],
)
@pytest.mark.parametrize("op", [repair_non_manifold_edges, clean_mesh], ids=["repair", "clean"])
def test_torch_non_manifold_repair_gives_the_numpy_result(make, op):
    v, f = make()
    ref_v, ref_f = op(v, f)
    got_v, got_f = op(torch.from_numpy(v), torch.from_numpy(f))
    np.testing.assert_array_equal(got_f.numpy(), ref_f)
    np.testing.assert_array_equal(got_v.numpy(), ref_v)


@pytest.mark.parametrize("torch_path", [False, True], ids=["numpy", "torch"])
def test_the_cut_fallback_alone_leaves_two_faces_per_edge_and_drops_none(torch_path):
    """Pass 2 on its own (what remains when pass 1 cannot pair faces): extra faces on an edge
    get their own copies of its two vertices."""
    from trellis2.postprocess.non_manifold import _cut_np, _cut_torch

    v, f = book_of_fins(5)
    if torch_path:
        v2, f2 = (t.numpy() for t in _cut_torch(torch.from_numpy(v), torch.from_numpy(f)))
    else:
        v2, f2 = _cut_np(v, f)
    assert len(f2) == len(f) and edge_use(f2).max() <= 2
    assert np.array_equal(f2[:2], f[:2])  # the first two faces keep the edge
    np.testing.assert_array_equal(sorted_faces_as_points(v2, f2), sorted_faces_as_points(v, f))
