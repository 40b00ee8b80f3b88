# SPDX-License-Identifier: MIT
"""Silhouette → inflated 2.5D body written as an O-Voxel (preview backend).

Frame: TRELLIS.2's, aabb [-0.5, 0.5]^3, Z-up, grid of R voxels per axis. The image's columns run
along +x, its rows downward along -z, and the viewer looks along +y (glTF export maps -y to +Z,
towards a default glTF camera), so the front surface is at y < 0.

Shape: with d(x, z) the signed distance to the silhouette boundary (positive inside) and r its
maximum, the body is the set (y / k)^2 + (r - d)^2 - r^2 <= 0: half-thickness k·sqrt(d (2r - d)),
a sphere for a disc when k = 1, with a rounded rim whose tangent is vertical at the boundary.
The field is sampled at lattice corners; crossing edges become intersected flags and each active
voxel's dual vertex is the mean of the crossing points on its 12 edges (surface nets).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

# Half-thickness at the silhouette's widest point, as a fraction of its inscribed radius.
DEPTH_RATIO = 0.85


@dataclass(frozen=True)
class OVoxel:
    """One O-Voxel: coords [N, 3] int32 (x, y, z), dual_vertices [N, 3] float32 voxel-local,
    intersected [N, 3] bool, attrs [N, 6] float32 in [0, 1] (base_color 0:3, metallic 3,
    roughness 4, alpha 5), grid_size R over aabb [-0.5, 0.5]^3."""

    coords: np.ndarray
    dual_vertices: np.ndarray
    intersected: np.ndarray
    attrs: np.ndarray
    grid_size: int


def signed_distance_2d(mask: np.ndarray) -> np.ndarray:
    """Signed Euclidean distance in pixels (positive inside), boundary at 0 between pixels."""
    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    return (inside - 0.5) * mask + (0.5 - outside) * ~mask


def occupancy_field(rgba: np.ndarray, grid_size: int) -> tuple[np.ndarray, int]:
    """Field G at lattice corners for the body of the image `rgba` ([S, S, 4], the square crop).

    Returns (G [R+1, ny, R+1] float32 over (x, y-slab, z), y0) where the slab covers lattice
    y indices y0 .. y0 + ny - 1 (the body never reaches beyond it).
    """
    r_grid = grid_size
    s = rgba.shape[0]
    # Supersample the 2D distance at 2x the corner lattice for a smooth rim.
    sup = 2
    n = (r_grid + 1) * sup
    coords = (np.arange(n) + 0.5) / n * s - 0.5
    ay = ndimage.map_coordinates(rgba[..., 3], np.meshgrid(coords, coords, indexing="ij"), order=1)
    mask = ay > 0.5
    d_sup = signed_distance_2d(mask) / sup  # in corner-lattice units (one voxel = one unit)
    # Back to the corner lattice: rows of the image are -z, columns are +x.
    d = d_sup.reshape(r_grid + 1, sup, r_grid + 1, sup).mean(axis=(1, 3))  # [row, col]
    d = d[::-1].T  # → [x, z]
    r = float(max(d.max(), 1.0))
    half_t = DEPTH_RATIO * r
    centre = r_grid / 2.0
    y0 = max(int(np.floor(centre - half_t)) - 2, 0)
    y1 = min(int(np.ceil(centre + half_t)) + 2, r_grid)
    ys = np.arange(y0, y1 + 1, dtype=np.float32) - centre
    dc = np.minimum(d, r).astype(np.float32)
    g = (ys[None, :, None] / DEPTH_RATIO) ** 2 + ((r - dc) ** 2 - r * r)[:, None, :]
    return g.astype(np.float32), y0


def _edge_crossings(g: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Sign-change edges along `axis`: (lower-corner index [E, 3], crossing t in [0, 1] [E])."""
    a = np.moveaxis(g, axis, 0)
    inside = a < 0
    change = inside[:-1] != inside[1:]
    idx = np.argwhere(change)
    g0 = a[:-1][change]
    g1 = a[1:][change]
    t = np.clip(g0 / (g0 - g1), 0.0, 1.0)
    # argwhere gives indices in the moved layout; put the axis back in place.
    moved = [axis] + [a for a in range(3) if a != axis]
    return idx[:, np.argsort(moved)], t.astype(np.float32)


def build_ovoxel(rgba: np.ndarray, grid_size: int) -> OVoxel:
    """Square RGBA crop [S, S, 4] float in [0, 1] → O-Voxel of its inflated body."""
    r_grid = grid_size
    g, y0 = occupancy_field(rgba, r_grid)
    dims = np.array([r_grid, r_grid, r_grid], dtype=np.int64)
    pts, vox, flags = [], [], []
    for axis in range(3):
        lo, t = _edge_crossings(g, axis)
        lo = lo.astype(np.int64)
        lo[:, 1] += y0
        p = lo.astype(np.float32)
        p[:, axis] += t
        # The 4 voxels sharing this edge: the edge's corner minus {0,1} in the two other axes.
        others = [a for a in range(3) if a != axis]
        for da in (0, 1):
            for db in (0, 1):
                v = lo.copy()
                v[:, others[0]] -= da
                v[:, others[1]] -= db
                pts.append(p)
                vox.append(v)
                # The voxel whose max-corner edge this is: offset (1, 1) in the other axes.
                flags.append(np.full(len(v), axis if (da, db) == (1, 1) else -1, dtype=np.int8))
    p = np.concatenate(pts)
    v = np.concatenate(vox)
    f = np.concatenate(flags)
    ok = ((v >= 0) & (v < dims)).all(axis=1)
    p, v, f = p[ok], v[ok], f[ok]
    key = (v[:, 0] * r_grid + v[:, 1]) * r_grid + v[:, 2]
    uniq, inv = np.unique(key, return_inverse=True)
    n = uniq.size
    coords = np.stack([uniq // (r_grid * r_grid), (uniq // r_grid) % r_grid, uniq % r_grid], 1)
    cnt = np.bincount(inv, minlength=n).astype(np.float32)
    mean = np.stack([np.bincount(inv, p[:, k], minlength=n) for k in range(3)], 1) / cnt[:, None]
    dual = np.clip(mean - coords, 0.0, 1.0).astype(np.float32)
    intersected = np.zeros((n, 3), dtype=bool)
    has = f >= 0
    intersected[inv[has], f[has]] = True
    attrs = voxel_attributes(rgba, coords, r_grid)
    return OVoxel(coords.astype(np.int32), dual, intersected, attrs, r_grid)


def voxel_attributes(rgba: np.ndarray, coords: np.ndarray, grid_size: int) -> np.ndarray:
    """PBR attributes per voxel [N, 6]: base colour and alpha projected through the body from the
    image (front and back see the same pixel), metallic 0, roughness from saturation (matte
    greys, slightly glossier saturated paint)."""
    s = rgba.shape[0]
    col = (coords[:, 0] + 0.5) / grid_size * s
    row = (grid_size - coords[:, 2] - 0.5) / grid_size * s
    # Push colours outward from the object so rim voxels just outside the matte get object colour.
    solid = rgba[..., 3] > 0.5
    _, (iy, ix) = ndimage.distance_transform_edt(~solid, return_indices=True)
    filled = rgba[iy, ix]
    ri = np.clip(row.astype(np.int64), 0, s - 1)
    ci = np.clip(col.astype(np.int64), 0, s - 1)
    c = filled[ri, ci]
    rgb = c[:, :3]
    sat = rgb.max(1) - rgb.min(1)
    roughness = np.clip(0.75 - 0.35 * sat, 0.3, 0.9)
    alpha = np.where(c[:, 3] > 0.5, 1.0, c[:, 3] * 2.0)
    return np.concatenate(
        [rgb, np.zeros_like(roughness)[:, None], roughness[:, None], alpha[:, None]], 1
    ).astype(np.float32)
