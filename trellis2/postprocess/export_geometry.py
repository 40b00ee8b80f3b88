# SPDX-License-Identifier: MIT
"""The geometry half of the export: everything that needs only the decoded mesh.

Hole filling, orientation, decimation, clean-up, UV unwrap, vertex normals, the texels'
surface points (rasterised, snapped to the dense surface) and the normal map do not read the
attribute voxels, so a backend can run them while the texture stages are still sampling
(trellis2.generation.export_prefetch) and hand the result to `process_mesh(..., geometry=...)`;
what is left is sampling the voxels at the texels, occlusion, gutters and encoding.
`process_mesh` without it runs this first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import torch

from trellis2.postprocess.bake import (
    TexelSurface,
    fill_gutters,
    nearest_covered,
    scatter_plane,
    texel_surface,
)
from trellis2.postprocess.cleanup import clean_mesh, fill_holes, unify_face_orientations
from trellis2.postprocess.closest_point import SurfaceProjector
from trellis2.postprocess.decimate import simplify
from trellis2.postprocess.normal_map import bake_normal_map, dense_normal_field, field_normals_at
from trellis2.postprocess.topology import unique_edges, unique_edges_torch, vertex_normals
from trellis2.postprocess.uv import UVMesh, uv_unwrap

_LOGGER = logging.getLogger(__name__)
StepCallback = Callable[[str, int, int], None]
EXPORT_STEPS = ("clean", "decimate", "uv_unwrap", "bake", "write")


@dataclass
class ExportReport:
    timings: dict[str, float] = field(default_factory=dict)
    dense_faces: int = 0
    uv_method: str = ""
    # Share of the texture's texels the charts cover (texel density grows with it).
    atlas_fill: float = 0.0


@dataclass
class PreparedGeometry:
    """Output of `prepare_geometry`; the frame is the aabb's (Z-up).

    uv: the decimated mesh split at UV seams; uv_v/uv_f/uv_n: its vertices, faces and vertex
    normals as tensors on `device` (float32 [V, 3], int64 [F, 3], float32 [V, 3]); texels: the
    covered texels and their (snapped) surface points; nearest: nearest-covered-texel maps for
    the gutter fill; normal: the tangent-space normal map [S, S, 3] in [0, 1] as a future
    (its gutter fill runs in a CPU thread meanwhile; None without decimation or when not asked
    for): read it with `normal_map_plane()`. The last fields record the settings it
    was made for, so `process_mesh` can refuse a mismatch."""

    box: np.ndarray  # [2, 3] float32 aabb
    voxel_size: float
    device: torch.device
    uv: UVMesh
    normals: np.ndarray  # [V, 3] float32, per UV-split vertex
    uv_v: torch.Tensor
    uv_f: torch.Tensor
    uv_n: torch.Tensor
    double_sided: bool
    texels: TexelSurface
    nearest: tuple[np.ndarray, np.ndarray] | None
    normal: Future[np.ndarray] | None
    decimation_target: int
    texture_size: int
    normal_map: bool

    def normal_map_plane(self) -> np.ndarray | None:
        return None if self.normal is None else self.normal.result()


def has_open_edges(faces: np.ndarray | torch.Tensor, n_vertices: int) -> bool:
    """True when some edge is used by a single face (the surface is not closed)."""
    if len(faces) == 0:
        return False
    if isinstance(faces, torch.Tensor):
        _, _, counts = unique_edges_torch(faces, n_vertices)
    else:
        _, _, counts = unique_edges(faces, n_vertices)
    return bool((counts == 1).any())


def as_numpy(x: object, dtype: type) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def synchronize(device: torch.device) -> None:
    """Wait for this thread's current stream only, so timing a step on a side stream does not
    wait for (or stall) work other threads queued on other streams."""
    if device.type == "cuda":
        torch.cuda.current_stream(device).synchronize()


class StepTimer:
    """Adds the wall time since the previous lap to `report.timings[name]` (stream synced)."""

    def __init__(self, report: ExportReport, device: torch.device) -> None:
        self.report, self.device = report, device
        synchronize(device)
        self.t = time.perf_counter()

    def lap(self, name: str) -> None:
        synchronize(self.device)
        now = time.perf_counter()
        self.report.timings[name] = self.report.timings.get(name, 0.0) + now - self.t
        self.t = now


def voxel_size_of(box: np.ndarray, voxel_size: object | None, grid_size: object | None) -> float:
    if voxel_size is not None:
        return float(np.asarray(voxel_size, dtype=np.float64).reshape(-1)[0])
    if grid_size is not None:
        extent = box[1] - box[0]
        return float(extent.max() / np.asarray(grid_size, dtype=np.float64).reshape(-1).max())
    raise ValueError("pass voxel_size or grid_size to to_glb (e.g. grid_size=resolution)")


def prepare_geometry(
    vertices: object,
    faces: object,
    aabb: object,
    voxel_size: object | None = None,
    grid_size: object | None = None,
    decimation_target: int = 1_000_000,
    texture_size: int = 2048,
    uv_method: str = "auto",
    uv_time_limit_s: float = 10.0,
    snap_to_dense: bool | None = None,
    normal_map: bool = True,
    device: torch.device | str = "cpu",
    torch_mesh: bool | None = None,
    on_step: StepCallback | None = None,
    report: ExportReport | None = None,
    on_decimated: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> PreparedGeometry:
    """Fill holes → orient → decimate (3x target, clean, target, clean) → orient → UV unwrap
    → vertex normals → texels rasterised and snapped to the dense surface → normal map.
    Everything the export does without the attribute voxels. Arguments as `process_mesh`;
    `on_decimated(vertices, faces)` (numpy) is called with the decimated mesh as soon as it
    exists (the prefetch makes the mesh preview from it)."""
    rep = report if report is not None else ExportReport()
    step = on_step or (lambda name, i, n: None)
    dev = torch.device(device)
    gpu = dev.type == "cuda" if torch_mesh is None else torch_mesh
    timer = StepTimer(rep, dev)
    box = as_numpy(aabb, np.float32).reshape(2, 3)
    vs = voxel_size_of(box, voxel_size, grid_size)
    if gpu:  # mesh work as tensors on the device (cleanup/decimate dispatch on the type)
        v: object = torch.as_tensor(vertices).to(dev, torch.float32)
        f: object = torch.as_tensor(faces).to(dev, torch.int64)
    else:
        v, f = as_numpy(vertices, np.float32), as_numpy(faces, np.int64)

    step("clean", 0, len(EXPORT_STEPS))
    rep.dense_faces = len(f)
    v, f = fill_holes(v, f, 3e-2)
    v, f = unify_face_orientations(v, f)
    dense_v, dense_f = v, f
    timer.lap("clean")
    step("decimate", 1, len(EXPORT_STEPS))
    if len(f) > 3 * decimation_target:
        v, f = simplify(v, f, 3 * decimation_target)
    v, f = clean_mesh(v, f)
    # The decimator may overshoot by a few faces and hole filling adds some: aim lower until
    # the target is a hard limit.
    goal = decimation_target
    for _ in range(4):
        v, f = simplify(v, f, goal)
        if isinstance(f, torch.Tensor) and len(f) > 1.1 * goal:
            # The parallel decimator keeps boundary edges; on a mesh full of small holes it
            # stalls far above the target. The serial one (CPU) finishes the reduction.
            _LOGGER.info("GPU decimation stalled at %d faces (goal %d); finishing on the CPU",
                         len(f), goal)  # fmt: skip
            vn, fn = simplify(as_numpy(v, np.float32), as_numpy(f, np.int64), goal)
            v, f = torch.from_numpy(vn).to(dev), torch.from_numpy(fn).to(dev)
        v, f = clean_mesh(v, f)
        if len(f) <= decimation_target:
            break
        goal = max(goal - (len(f) - decimation_target) - 4, 1)
    v, f = unify_face_orientations(v, f)
    v_np, f_np = as_numpy(v, np.float32), as_numpy(f, np.int64)
    timer.lap("decimate")
    if on_decimated is not None:
        on_decimated(v_np, f_np)
        timer.lap("on_decimated")
    step("uv_unwrap", 2, len(EXPORT_STEPS))
    uvm = uv_unwrap(
        v_np, f_np, method=uv_method, texture_size=texture_size, time_limit_s=uv_time_limit_s
    )
    rep.uv_method = uvm.method
    normals = vertex_normals(v_np, f_np)[uvm.vmap]
    timer.lap("uv_unwrap")
    # Only real decimation loses detail (clean-up alone removes a handful of faces).
    decimated = len(dense_f) > decimation_target
    uv_v = torch.from_numpy(uvm.vertices).to(dev)
    uv_f = torch.from_numpy(uvm.faces).to(dev)
    uv_uv = torch.from_numpy(uvm.uvs).to(dev)
    uv_n = torch.from_numpy(normals).to(dev)
    step("bake", 3, len(EXPORT_STEPS))
    projector = None
    snap = None
    snapped: dict[str, torch.Tensor] = {}
    if decimated and (snap_to_dense or snap_to_dense is None):
        projector = SurfaceProjector(dense_v, dense_f, cell_size=vs, device=dev)
        timer.lap("bake.index")

        def snap(pos: torch.Tensor) -> torch.Tensor:
            timer.lap("bake.texels")
            p, snapped["face"], snapped["bary"] = projector.project_torch(pos)
            timer.lap("bake.snap")
            return p

    texels = texel_surface(uv_v, uv_f, uv_uv, texture_size, snap, dev)
    rep.atlas_fill = float(texels.mask.mean())
    nearest = nearest_covered(texels.mask)
    timer.lap("bake.texels")
    normal = None
    if normal_map and decimated:
        if projector is not None:  # exact: the dense normals at the snapped points
            high = projector.normals_torch(snapped["face"], snapped["bary"])
        else:
            dv = torch.as_tensor(dense_v).to(dev, torch.float32)
            df = torch.as_tensor(dense_f).to(dev, torch.int64)
            field = dense_normal_field(dv, df, box[0], vs)
            high = field_normals_at(field, texels.texel_pos, box[0], vs)
        enc = bake_normal_map(uv_v, uv_n, uv_uv, uv_f, texels.texel_face, texels.texel_bary, high)
        plane = scatter_plane(enc, texels.mask)
        # cv2 releases the GIL: the gutter fill overlaps whatever comes next.
        pool = ThreadPoolExecutor(1, thread_name_prefix="normal-gutter")
        normal = pool.submit(
            lambda: fill_gutters({"normal": (plane, 1)}, texels.mask, nearest=nearest)["normal"]
        )
        pool.shutdown(wait=False)
        timer.lap("normal_map")
    return PreparedGeometry(
        box=box,
        voxel_size=vs,
        device=dev,
        uv=uvm,
        normals=normals,
        uv_v=uv_v,
        uv_f=uv_f,
        uv_n=uv_n,
        # Closed shells are oriented outward and can be culled; open sheets must show both sides.
        double_sided=has_open_edges(f, len(v_np)),
        texels=texels,
        nearest=nearest,
        normal=normal,
        decimation_target=decimation_target,
        texture_size=texture_size,
        normal_map=normal_map,
    )
