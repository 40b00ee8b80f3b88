# SPDX-License-Identifier: MIT
"""O-Voxel mesh + attribute voxels → textured, clean, decimated asset (reference §13, MIT only).

Steps (each timed in `ExportReport.timings`): the geometry half (trellis2.postprocess.
export_geometry: fill holes on the dense mesh → decimate (3x target, clean, target, clean) →
orient faces outward → UV unwrap (bounded) → vertex normals), then the texture half: bake
(own UV rasteriser, texels snapped to the dense surface, sparse trilinear sampling) → normal map →
ambient occlusion → gutter fill (TELEA inpainting near charts, nearest texel beyond) → alpha mode
from data → writer (textures encoded in parallel threads).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

import trellis2
from trellis2.generation.types import ExportSettings, GeneratedAsset, OutputFile
from trellis2.postprocess.bake import (
    choose_alpha_mode,
    fill_gutters,
    maps_from_values,
    sample_texels,
    scatter_plane,
)
from trellis2.postprocess.export_geometry import (
    EXPORT_STEPS,
    ExportReport,
    PreparedGeometry,
    StepCallback,
    StepTimer,
    has_open_edges,
    prepare_geometry,
)
from trellis2.postprocess.occlusion import bake_occlusion, vertex_ambient_occlusion
from trellis2.postprocess.textured_mesh import TexturedMesh

__all__ = [
    "EXPORT_STEPS",
    "PBR_ATTR_LAYOUT",
    "ExportReport",
    "PreparedGeometry",
    "TexelAttributes",
    "export_asset",
    "has_open_edges",
    "prepare_geometry",
    "process_mesh",
    "to_glb",
]

# Texel positions [L, 3] (aabb frame, on the export device, snapped to the dense surface) →
# attribute values [L, C] in the export's attr_layout: replaces sampling the attribute voxels,
# e.g. `trellis2 convert` re-baking the source asset's own textures.
TexelAttributes = Callable[[torch.Tensor], torch.Tensor]

_LOGGER = logging.getLogger(__name__)

PBR_ATTR_LAYOUT = {
    "base_color": slice(0, 3),
    "metallic": slice(3, 4),
    "roughness": slice(4, 5),
    "alpha": slice(5, 6),
}


def _layout(attr_layout: Mapping[str, object]) -> dict[str, slice]:
    out = {}
    for k in ("base_color", "metallic", "roughness", "alpha"):
        v = attr_layout[k]
        out[k] = v if isinstance(v, slice) else slice(int(v[0]), int(v[1]))  # type: ignore[index]
    return out


def process_mesh(
    vertices: object,
    faces: object,
    attr_volume: object,
    coords: object,
    attr_layout: Mapping[str, object],
    aabb: object,
    voxel_size: object | None = None,
    grid_size: object | None = None,
    decimation_target: int = 1_000_000,
    texture_size: int = 2048,
    uv_method: str = "auto",
    uv_time_limit_s: float = 10.0,
    normal_map: bool = True,
    snap_to_dense: bool | None = None,
    device: torch.device | str | None = None,
    ambient_occlusion: bool = True,
    on_step: StepCallback | None = None,
    report: ExportReport | None = None,
    torch_mesh: bool | None = None,
    geometry: PreparedGeometry | None = None,
    texel_attributes: TexelAttributes | None = None,
) -> TexturedMesh:
    """Run the export path; inputs as for `to_glb`. Returns a TexturedMesh (Z-up frame).

    normal_map: bake a tangent-space normal map of the dense mesh (only when decimation removed
    faces; otherwise it would be flat). snap_to_dense: move texel positions to the closest point
    of the dense mesh before sampling attributes (None = whenever decimation ran). device: where
    the work runs (None = the attribute tensor's device). On CUDA every heavy step is torch on
    the GPU (hole filling, orientation, decimation, clean-up, rasterisation, snapping, sampling,
    normal map, occlusion); UV charts, gutter inpainting (cv2) and encoding stay on the CPU.
    On the CPU the mesh clean-up and decimation are numpy / fast-simplification.
    ambient_occlusion: bake AO from the voxels (see trellis2.postprocess.occlusion) into the R
    channel of the metallic-roughness texture, referenced as the occlusion texture (ORM).
    torch_mesh: run clean-up and decimation as torch on `device` (None = on CUDA only; True on
    the CPU exercises the GPU code path, slower than numpy there).
    geometry: the result of `prepare_geometry` for these vertices/faces and settings (made
    ahead, e.g. while the texture stages ran); then only the texture half runs here.
    texel_attributes: where texel colours come from instead of the attribute voxels (which then
    serve only the ambient occlusion)."""
    rep = report if report is not None else ExportReport()
    step = on_step or (lambda name, i, n: None)
    if device is None:
        device = attr_volume.device if isinstance(attr_volume, torch.Tensor) else "cpu"
    dev = torch.device(device)
    if geometry is None:
        geometry = prepare_geometry(
            vertices,
            faces,
            aabb,
            voxel_size=voxel_size,
            grid_size=grid_size,
            decimation_target=decimation_target,
            texture_size=texture_size,
            uv_method=uv_method,
            uv_time_limit_s=uv_time_limit_s,
            snap_to_dense=snap_to_dense,
            normal_map=normal_map,
            device=dev,
            torch_mesh=torch_mesh,
            on_step=on_step,
            report=rep,
        )
    else:
        made = (geometry.decimation_target, geometry.texture_size, geometry.normal_map)
        asked = (decimation_target, texture_size, normal_map)
        if made != asked or geometry.device != dev:
            raise ValueError(
                "the prepared geometry was made for other export settings (decimation target, "
                f"texture size, normal map, device): {(*made, str(geometry.device))} vs "
                f"{(*asked, str(dev))}; prepare it again"
            )
    return _bake_textures(
        geometry, attr_volume, coords, attr_layout, ambient_occlusion, step, rep, texel_attributes
    )


def _bake_textures(
    geo: PreparedGeometry,
    attr_volume: object,
    coords: object,
    attr_layout: Mapping[str, object],
    ambient_occlusion: bool,
    step: StepCallback,
    rep: ExportReport,
    texel_attributes: TexelAttributes | None = None,
) -> TexturedMesh:
    """The attribute half: sample the voxels at the prepared texels → occlusion → gutter fill."""
    dev, box, vs = geo.device, geo.box, geo.voxel_size
    timer = StepTimer(rep, dev)
    c = torch.as_tensor(coords).to(dev, torch.int64)
    if c.shape[1] == 4:  # (batch, x, y, z) → (x, y, z)
        c = c[:, 1:]
    step("bake", 3, len(EXPORT_STEPS))
    if texel_attributes is None:
        feats = torch.as_tensor(attr_volume).to(dev, torch.float32)
        maps = sample_texels(geo.texels, c, feats, _layout(attr_layout), box[0], vs, dev)
    else:
        values = texel_attributes(geo.texels.texel_pos)
        maps = maps_from_values(geo.texels, values.to(dev), _layout(attr_layout))
    alpha_mode = choose_alpha_mode(maps.alpha, maps.mask)
    timer.lap("bake")
    # The gutter fill is CPU work (cv2): fill the PBR maps in a background thread while the
    # occlusion is computed (on the GPU when there is one).
    background = ThreadPoolExecutor(1)
    pbr_planes: dict[str, tuple[np.ndarray, int]] = {
        "base_color": (maps.base_color, 3),
        # Metallic, roughness, alpha inpainted together (radius 1, as the reference does).
        "mra": (np.concatenate([maps.metallic, maps.roughness, maps.alpha], -1), 1),
    }
    pbr_filled = background.submit(fill_gutters, pbr_planes, maps.mask, nearest=geo.nearest)
    background.shutdown(wait=False)
    planes: dict[str, tuple[np.ndarray, int]] = {}
    if ambient_occlusion:
        extent = box[1] - box[0]
        ao = vertex_ambient_occlusion(
            geo.uv_v, geo.uv_n, c, box[0], vs, round(float(extent.max()) / vs)
        )
        occ = bake_occlusion(ao, geo.uv_f, maps.texel_face, maps.texel_bary)
        planes["occlusion"] = (scatter_plane(occ, maps.mask), 1)
        timer.lap("occlusion")
    filled = fill_gutters(planes, maps.mask, nearest=geo.nearest) if planes else {}
    filled.update(pbr_filled.result())
    normal_plane = geo.normal_map_plane()
    timer.lap("gutter_fill")
    mra = filled["mra"]
    uvm = geo.uv
    return TexturedMesh(
        vertices=uvm.vertices,
        faces=uvm.faces,
        uvs=uvm.uvs,
        normals=geo.normals,
        base_color=filled["base_color"],
        metallic=mra[..., 0:1],
        roughness=mra[..., 1:2],
        alpha=mra[..., 2:3],
        normal_map=normal_plane,
        occlusion=filled.get("occlusion"),
        alpha_mode=alpha_mode,
        double_sided=geo.double_sided,
    )


def to_glb(
    vertices: object,
    faces: object,
    attr_volume: object,
    coords: object,
    attr_layout: Mapping[str, object],
    aabb: object,
    voxel_size: object | None = None,
    grid_size: object | None = None,
    decimation_target: int = 1000000,
    texture_size: int = 2048,
    remesh: bool = False,
    remesh_band: float = 1,
    remesh_project: float = 0.9,
    mesh_cluster_threshold_cone_half_angle_rad: float = math.radians(90.0),
    mesh_cluster_refine_iterations: int = 0,
    mesh_cluster_global_iterations: int = 1,
    mesh_cluster_smooth_strength: float = 1,
    verbose: bool = False,
    use_tqdm: bool = False,
) -> TexturedMesh:
    """The reference's `o_voxel.postprocess.to_glb` signature and defaults.

    vertices [V, 3] / faces [F, 3]: the decoded mesh in the aabb frame (Z-up); attr_volume [N, C]
    attribute voxels at coords [N, 3] (or [N, 4] with batch), attr_layout name → slice;
    voxel_size or grid_size. Returns an object with `.export(path, extension_webp=...)`.
    remesh=True first replaces the mesh by a closed narrow-band dual-contouring shell
    (trellis2.postprocess.remesh, band and projection as the reference) and exports it
    single-sided. The chart-clustering arguments are accepted for compatibility: charts come
    from our own clustering (see trellis2.postprocess.uv).
    """
    if remesh:
        from trellis2.postprocess.remesh import remesh_for_export

        vertices, faces = remesh_for_export(
            vertices, faces, aabb, voxel_size, grid_size, remesh_band, remesh_project
        )
    report = ExportReport()
    mesh = process_mesh(
        vertices,
        faces,
        attr_volume,
        coords,
        attr_layout,
        aabb,
        voxel_size=voxel_size,
        grid_size=grid_size,
        decimation_target=decimation_target,
        texture_size=texture_size,
        report=report,
    )
    if remesh:
        mesh.double_sided = False  # as the reference's remesh path
    if verbose:
        print("to_glb timings:", {k: round(v, 3) for k, v in report.timings.items()})
    return mesh


def export_asset(
    vertices: object,
    faces: object,
    attr_volume: object,
    coords: object,
    aabb: object,
    settings: ExportSettings,
    voxel_size: object | None = None,
    grid_size: object | None = None,
    attr_layout: Mapping[str, object] | None = None,
    extras: Mapping[str, object] | None = None,
    name: str = "asset",
    on_step: StepCallback | None = None,
    report: ExportReport | None = None,
    geometry: PreparedGeometry | None = None,
    texel_attributes: TexelAttributes | None = None,
) -> GeneratedAsset:
    """What backends call: the export path driven by `ExportSettings`, returning the files and
    their statistics. `extras` (provenance) lands in the glTF asset's `extras`. `geometry`:
    the geometry half made ahead (`prepare_geometry` with the same settings), see
    `process_mesh`; so is `texel_attributes`."""
    rep = report if report is not None else ExportReport()
    mesh = process_mesh(
        vertices,
        faces,
        attr_volume,
        coords,
        attr_layout or PBR_ATTR_LAYOUT,
        aabb,
        voxel_size=voxel_size,
        grid_size=grid_size,
        decimation_target=settings.decimation_target,
        texture_size=settings.texture_size,
        normal_map=settings.normal_map,
        on_step=on_step,
        report=rep,
        geometry=geometry,
        texel_attributes=texel_attributes,
    )
    if on_step:
        on_step("write", 4, len(EXPORT_STEPS))
    t = time.perf_counter()
    mesh.name = name
    mesh.extras = dict(extras or {})
    files = mesh.to_files(
        container=settings.container,
        profile=settings.profile,
        texture_format=settings.texture_format,
        extra_textures=tuple(settings.extra_textures),
        generator=f"trellis2 {trellis2.__version__}",
    )
    rep.timings["write"] = time.perf_counter() - t
    fmt = settings.texture_format
    if settings.profile == "unity" and fmt == "webp":
        fmt = "png"
    extent = mesh.vertices.max(0) - mesh.vertices.min(0)
    return GeneratedAsset(
        files=tuple(OutputFile(n, d, m, k) for n, d, m, k in files),
        triangle_count=len(mesh.faces),
        vertex_count=len(mesh.vertices),
        texture_count=3 if mesh.normal_map is not None else 2,
        texture_size=mesh.texture_size,
        texture_format=fmt,  # type: ignore[arg-type]
        alpha_mode=mesh.alpha_mode,
        extent=(float(extent[0]), float(extent[2]), float(extent[1])),
    )
