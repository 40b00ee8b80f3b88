# SPDX-License-Identifier: MIT
"""Post-processing: O-Voxel mesh + attribute voxels → clean, decimated, textured GLB/glTF."""

from trellis2.postprocess.export import (
    PBR_ATTR_LAYOUT,
    ExportReport,
    export_asset,
    process_mesh,
    to_glb,
)
from trellis2.postprocess.textured_mesh import TexturedMesh

__all__ = [
    "PBR_ATTR_LAYOUT",
    "ExportReport",
    "TexturedMesh",
    "export_asset",
    "process_mesh",
    "to_glb",
]
