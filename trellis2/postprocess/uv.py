# SPDX-License-Identifier: MIT
"""UV unwrap, always bounded in time.

Two methods:
- "xatlas": xatlas chart computation + packing (MIT). Best charts, but superlinear: ~0.5 s for 5k
  faces and ~2 s for 20k here, minutes past 100k. It runs in a forked child with a time limit.
- "charts": our own fast atlas. Faces are grouped by the dominant axis of their (smoothed) normal,
  split into connected charts (charts filling under half their box are cut in two, up to three
  times), each chart projected onto its axis plane, and the charts packed
  into the unit square (trellis2.postprocess.atlas_pack: skyline, turned where that fits better,
  at the largest scale that fits). Linear time in faces (~0.3 s for 100k faces on one core).
"auto" uses xatlas for small meshes and falls back to "charts" on timeout or failure.

Output UVs are in [0, 1] with v pointing down the image (glTF convention: (0, 0) = first texel
row), so no flip is needed when writing glTF.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from trellis2.postprocess.atlas_pack import pack_charts
from trellis2.postprocess.topology import face_normals, manifold_face_pairs

_LOGGER = logging.getLogger(__name__)

# xatlas is tried only below this face count in "auto" mode (above it, it cannot finish in time).
XATLAS_AUTO_MAX_FACES = 5_000
# Rounds of splitting stacked layers out of their charts, and the resolution of the check.
SPLIT_ROUNDS = 2
SPLIT_CHECK_SIZE = 1024
# Charts that fill less than this share of their bounding box (L shapes, rings, blobs around a
# corner) are cut in two across their longer side, up to LOOSE_ROUNDS times: the packer places
# boxes, so a loose chart wastes the rest of its box.
LOOSE_FILL = 0.5
LOOSE_ROUNDS = 3
# Charts smaller than this share of the whole projected area are left as they are.
LOOSE_MIN_SHARE = 1e-3
_AXES = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], np.float32)


@dataclass(frozen=True)
class UVMesh:
    """Unwrapped mesh: vertices [V', 3] float32 (seams split), faces [F, 3] int64 (same face
    order as the input), uvs [V', 2] float32 in [0, 1], vmap [V'] int64 → input vertex."""

    vertices: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    vmap: np.ndarray
    method: str


def uv_unwrap(
    vertices: np.ndarray,
    faces: np.ndarray,
    method: str = "auto",
    texture_size: int = 1024,
    time_limit_s: float = 10.0,
    split_stacked: bool = False,
) -> UVMesh:
    """Unwrap (vertices float [V, 3], faces int [F, 3]) into a non-overlapping atlas.

    `texture_size` sets the chart padding (2 texels) of the "charts" method; `time_limit_s`
    bounds xatlas; `split_stacked` turns on the fast atlas's stacked-layer check (see
    `chart_atlas`). Raises ValueError for an unknown method."""
    if method not in ("auto", "xatlas", "charts"):
        raise ValueError(f"uv method must be auto, xatlas or charts, got {method!r}")
    use_xatlas = method == "xatlas" or (method == "auto" and len(faces) <= XATLAS_AUTO_MAX_FACES)
    if use_xatlas:
        res = _xatlas_with_time_limit(vertices, faces, time_limit_s)
        if res is not None:
            return res
        _LOGGER.warning(
            "xatlas did not finish %d faces within %.1f s; using the fast chart atlas",
            len(faces),
            time_limit_s,
        )
    return chart_atlas(vertices, faces, texture_size=texture_size, split_stacked=split_stacked)


def _xatlas_child(conn, vertices: np.ndarray, faces: np.ndarray) -> None:
    import xatlas

    try:
        vmap, idx, uvs = xatlas.parametrize(vertices.astype(np.float32), faces.astype(np.uint32))
        conn.send((vmap, idx, uvs))
    except Exception as exc:  # report, the parent falls back
        conn.send(exc)
    finally:
        conn.close()


def _xatlas_with_time_limit(
    vertices: np.ndarray, faces: np.ndarray, time_limit_s: float
) -> UVMesh | None:
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_xatlas_child, args=(child, vertices, faces), daemon=True)
    proc.start()
    child.close()
    try:
        if not parent.poll(time_limit_s):
            return None
        msg = parent.recv()
    except EOFError:
        return None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join(1.0)
        parent.close()
    if isinstance(msg, Exception):
        _LOGGER.warning("xatlas failed (%s); using the fast chart atlas", msg)
        return None
    vmap, idx, uvs = msg
    vmap = vmap.astype(np.int64)
    # xatlas UV origin is bottom-left in its image convention; flip to glTF (top-left).
    uv = np.stack([uvs[:, 0], 1.0 - uvs[:, 1]], 1).astype(np.float32)
    return UVMesh(vertices[vmap].astype(np.float32), idx.astype(np.int64), uv, vmap, "xatlas")


def _smoothed_face_normals(vertices: np.ndarray, faces: np.ndarray, rounds: int = 2) -> np.ndarray:
    """Face normals averaged over the faces sharing their vertices (rounds times); voxel-scale
    staircase noise would otherwise shatter the charts."""
    fn = face_normals(vertices, faces).astype(np.float64)
    flat = faces.reshape(-1)
    for _ in range(rounds):
        vn = np.stack(
            [np.bincount(flat, np.repeat(fn[:, c], 3), minlength=len(vertices)) for c in range(3)],
            1,
        )
        fn = vn[faces].sum(1)
        fn /= np.maximum(np.linalg.norm(fn, axis=1, keepdims=True), 1e-20)
    return fn.astype(np.float32)


def chart_atlas(
    vertices: np.ndarray,
    faces: np.ndarray,
    texture_size: int = 1024,
    padding_texels: float = 2.0,
    split_stacked: bool = False,
) -> UVMesh:
    """The fast atlas: axis-class charts, planar projection, packing (see module doc).

    A planar projection is not injective when one chart holds two surface layers stacked along
    its axis (a panel glued onto a body: the hidden face under the panel, linked to the panel
    front through the panel's bevel). Their texels would overlap and the bake would paint one
    layer's colour on the other; with `split_stacked` such layers are split into charts of their
    own (`_stacked_faces`, up to SPLIT_ROUNDS times). Off by default: since the clean-up repairs
    non-manifold edges by splitting vertices (c1fa2c3) the one real case seen (Kenney's chest
    panel) no longer forms such a chart, and the check's false positives fragment charts
    (Kenney at 512: 34.77 dB without, 33.88 dB with; see bench/RESULTS.md)."""
    nf = len(faces)
    normals = _smoothed_face_normals(vertices, faces)
    cls = np.argmax(normals @ _AXES.T, axis=1)
    pairs, _ = manifold_face_pairs(faces, len(vertices))
    pairs = pairs[cls[pairs[:, 0]] == cls[pairs[:, 1]]]

    def charts_of(group: np.ndarray) -> tuple[int, np.ndarray]:
        """Connected components of faces linked across manifold edges within one group."""
        linked = pairs[group[pairs[:, 0]] == group[pairs[:, 1]]]
        g = sparse.coo_matrix(
            (np.ones(len(linked), np.int8), (linked[:, 0], linked[:, 1])), shape=(nf, nf)
        )
        return csgraph.connected_components(g, directed=False)

    n_charts, chart = charts_of(np.zeros(nf, np.int64))
    plane = _face_plane_coords(vertices, faces, cls)
    for _ in range(LOOSE_ROUNDS):
        side = _loose_chart_halves(plane, chart, n_charts)
        if side is None:
            break
        n_charts, chart = charts_of(chart.astype(np.int64) * 2 + side)
    base = chart.astype(np.int64)
    layer = np.zeros(nf, np.int64)
    for round_ in range(SPLIT_ROUNDS + 1 if split_stacked else 1):
        if round_ > 0:
            n_charts, chart = charts_of(base * (1 << SPLIT_ROUNDS) + layer)
        atlas = _project_and_pack(
            vertices, faces, chart, n_charts, cls, texture_size, padding_texels
        )
        if not split_stacked or round_ == SPLIT_ROUNDS:
            break
        stacked = _stacked_faces(atlas, cls, min(texture_size, SPLIT_CHECK_SIZE))
        if not stacked.any():
            break
        layer[stacked] |= 1 << round_  # a new layer label per round
    return atlas


def _plane_coords(points: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Points [N, 3] → [N, 2] float64 on the plane of their axis class cls [N] (0..5 = +x, -x,
    +y, -y, +z, -z), mirrored for negative axes so the UV winding matches the face winding seen
    from outside."""
    axis = cls // 2
    rows = np.arange(len(points))
    u = points[rows, (axis + 1) % 3] * np.where(cls % 2 == 0, 1.0, -1.0)
    return np.stack([u, points[rows, (axis + 2) % 3]], 1).astype(np.float64)


def _face_plane_coords(vertices: np.ndarray, faces: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """Each face's corners on its axis class's plane [F, 3, 2], as the atlas projects them."""
    corners = vertices[faces].astype(np.float64).reshape(-1, 3)
    return _plane_coords(corners, np.repeat(cls, 3)).reshape(-1, 3, 2)


def chart_boxes(
    label: np.ndarray, n: int, low: np.ndarray, high: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-label bounding boxes: (min [n, 2] of `low` [K, 2], max [n, 2] of `high` [K, 2]) over
    the rows with that label (every label in 0..n-1 present). Sorted segment reductions: about
    20x faster than np.minimum.at."""
    order = np.argsort(label, kind="stable")
    starts = np.searchsorted(label[order], np.arange(n))
    return np.minimum.reduceat(low[order], starts), np.maximum.reduceat(high[order], starts)


def _loose_chart_halves(uv: np.ndarray, chart: np.ndarray, n_charts: int) -> np.ndarray | None:
    """Side [F] (0/1) of each face's centroid (uv [F, 3, 2]: `_face_plane_coords`) across the
    middle of its chart's longer box side, for charts that fill less than LOOSE_FILL of their
    box; 0 elsewhere. None: no loose chart."""
    e1, e2 = uv[:, 1] - uv[:, 0], uv[:, 2] - uv[:, 0]
    area = np.bincount(chart, 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]), n_charts)
    # Corner-wise minimum / maximum: reductions over a length-3 axis are slow in numpy.
    low = np.minimum(np.minimum(uv[:, 0], uv[:, 1]), uv[:, 2])
    high = np.maximum(np.maximum(uv[:, 0], uv[:, 1]), uv[:, 2])
    lo, hi = chart_boxes(chart, n_charts, low, high)
    box = hi - lo
    loose = (area < LOOSE_FILL * box[:, 0] * box[:, 1]) & (
        area > LOOSE_MIN_SHARE * max(float(area.sum()), 1e-30)
    )
    if not loose.any():
        return None
    longer = (box[:, 1] > box[:, 0]).astype(np.int64)
    mid = 0.5 * (lo + hi)[np.arange(n_charts), longer]
    rows, col = np.arange(len(uv)), longer[chart]
    corner_sum = uv[rows, 0, col] + uv[rows, 1, col] + uv[rows, 2, col]  # 3 × the centroid
    return ((corner_sum > 3.0 * mid[chart]) & loose[chart]).astype(np.int64)


def _project_and_pack(
    vertices: np.ndarray,
    faces: np.ndarray,
    chart: np.ndarray,
    n_charts: int,
    cls: np.ndarray,
    texture_size: int,
    padding_texels: float,
) -> UVMesh:
    """Charts (label per face [F]) → planar projection on each chart's axis plane → packing."""
    # Split vertices along chart borders: one output vertex per (chart, input vertex).
    key = chart[:, None].astype(np.int64) * len(vertices) + faces
    uniq, inv = np.unique(key.reshape(-1), return_inverse=True)
    vmap = (uniq % len(vertices)).astype(np.int64)
    vchart = (uniq // len(vertices)).astype(np.int64)
    new_faces = inv.reshape(-1, 3).astype(np.int64)
    pos = vertices[vmap].astype(np.float64)

    # Planar projection on the chart's axis plane.
    chart_cls = np.zeros(n_charts, dtype=np.int64)
    chart_cls[chart] = cls
    uv = _plane_coords(pos, chart_cls[vchart])

    # Per-chart bounding boxes, packed at the largest scale that fits.
    lo, hi = chart_boxes(vchart, n_charts, uv, uv)
    size = np.maximum(hi - lo, 1e-9)
    uv -= lo[vchart]
    packing = pack_charts(size, texture_size, round(padding_texels))
    turn = packing.turned[vchart]
    # Turned 90° counter-clockwise: (u, v) → (h - v, u); a rotation, so the winding holds.
    uv = np.where(turn[:, None], np.stack([size[vchart, 1] - uv[:, 1], uv[:, 0]], 1), uv)
    uv = uv * packing.scale + packing.offsets[vchart]
    return UVMesh(
        pos.astype(np.float32), new_faces, np.clip(uv, 0.0, 1.0).astype(np.float32), vmap, "charts"
    )


def _stacked_faces(atlas: UVMesh, cls: np.ndarray, size: int) -> np.ndarray:
    """Faces [F] bool hidden behind another layer of their own chart in UV space.

    The atlas is rasterised twice at `size`², front-most faces winning (faces sorted by depth
    along their chart's outward axis; the rasteriser keeps the highest face id), then back-most
    winning. Where the two winners' 3D points are more than a quarter of the median edge apart
    (adjacent faces of one layer meet at the same point), the back winner is a stacked face."""
    import torch

    from trellis2.postprocess.rasterize import rasterize_uv

    pos, f = atlas.vertices.astype(np.float64), atlas.faces
    tri = pos[f]
    depth = tri.mean(1)[np.arange(len(f)), cls // 2] * np.where(cls % 2 == 0, 1.0, -1.0)
    edge = np.linalg.norm(tri[:, 1] - tri[:, 0], axis=1)
    tol = 0.25 * float(np.median(edge)) if len(edge) else 0.0
    order = np.argsort(depth, kind="stable")  # back → front
    device = "cuda" if torch.cuda.is_available() else "cpu"
    uv_t = torch.from_numpy(atlas.uvs).to(device)
    faces, barys = [], []
    for perm in (order, order[::-1]):
        fid, bary = rasterize_uv(uv_t, torch.from_numpy(f[perm]).to(device), size, size)
        fid = fid.reshape(-1).cpu().numpy()
        faces.append(np.where(fid >= 0, perm[np.maximum(fid, 0)], -1))
        barys.append(bary.reshape(-1, 3))
    # Texels whose two winners differ: on edges shared by adjacent faces, and stacked layers.
    diff = np.flatnonzero((faces[0] != faces[1]) & (faces[0] >= 0))
    diff_t = torch.from_numpy(diff).to(device)
    points = [
        (tri[face[diff]] * bary[diff_t].cpu().numpy()[:, :, None]).sum(1)
        for face, bary in zip(faces, barys, strict=True)
    ]
    apart = np.linalg.norm(points[0] - points[1], axis=1) > tol
    out = np.zeros(len(f), bool)
    out[faces[1][diff[apart]]] = True
    # Faces smaller than a texel may win no texel in either order: test each face's centroid
    # against the front winner of its texel (3D point at the texel centre), allowing for the
    # up to 0.71 texel between the two (in world units: texel_world).
    uvf = atlas.uvs[f].astype(np.float64)
    e1, e2 = uvf[:, 1] - uvf[:, 0], uvf[:, 2] - uvf[:, 0]
    # 2-D cross product by hand: np.cross of 2-vectors is deprecated and raises in new NumPy.
    uv_area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    ok = (uv_area > 0) & (area > 0)
    texel_world = float(np.median(np.sqrt(area[ok] / uv_area[ok]))) / size if ok.any() else 0.0
    cell = np.clip((uvf.mean(1) * size).astype(np.int64), 0, size - 1)
    texel = cell[:, 1] * size + cell[:, 0]
    win = faces[0][texel]
    other = np.flatnonzero((win >= 0) & (win != np.arange(len(f))))
    wb = barys[0][torch.from_numpy(texel[other]).to(device)].cpu().numpy().astype(np.float64)
    at_texel = (tri[win[other]] * wb[:, :, None]).sum(1)
    far = np.linalg.norm(at_texel - tri[other].mean(1), axis=1) > tol + 2.0 * texel_world
    out[other[far]] = True
    return out
