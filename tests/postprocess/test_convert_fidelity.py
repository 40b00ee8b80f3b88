# SPDX-License-Identifier: MIT
"""Round-trip colour fidelity of `convert_asset` on a real asset with stacked surface layers.

kenney_platformer_character has a bevelled panel glued on its chest over a differently coloured
chest face. When the clean-up still dropped faces at non-manifold edges, the hidden chest face and
the panel became one chart of the fast atlas, whose planar projection gave both the same texels:
the bake painted the chest's colour over the panel (20.0 dB at resolution 64, 21.7 dB at 512).
Two changes each prevent it: the clean-up now repairs non-manifold edges by splitting vertices
(c1fa2c3), which keeps the hidden face out of the panel's chart (24.3 dB at 64), and the atlas's
opt-in stacked-layer split (`split_stacked`, tests/postprocess/test_uv_atlas.py; 25.2 dB at 64
with the old clean-up). This guards the end result with the default settings, baking from the
voxels as a generated asset is. The source bake (`bake_from="source"`, convert's default) is
checked on the asset whose detail is finer than a voxel.
"""

from __future__ import annotations

from trellis2.generation.types import ExportSettings
from trellis2.postprocess.convert import convert_asset


def test_kenney_round_trip_keeps_the_chest_panel_colour(shared_dir) -> None:
    path = shared_dir / "assets" / "gltf" / "kenney_platformer_character.glb"
    settings = ExportSettings(decimation_target=200_000, texture_size=512)
    _, rep = convert_asset(path, 64, settings, name="kenney", bake_from="voxels")
    assert rep.chamfer_voxels < 0.5
    assert rep.base_color_psnr_db > 24.0, rep.to_json()


def test_source_bake_keeps_text_labels_the_voxel_field_blurs(shared_dir) -> None:
    # The alpha-blend test asset's labels carry ~40 source texels per voxel at 512; at 64 the
    # voxel field keeps almost none of them (16.0 dB), the source bake keeps them (29.1 dB).
    path = shared_dir / "assets" / "gltf" / "khronos_alpha_blend_mode_test.glb"
    settings = ExportSettings(decimation_target=200_000, texture_size=1024)
    _, voxels = convert_asset(path, 64, settings, bake_from="voxels")
    _, source = convert_asset(path, 64, settings, bake_from="source")
    assert source.chamfer_voxels == voxels.chamfer_voxels  # same geometry either way
    assert source.base_color_psnr_db > 27.5, source.to_json()
    assert source.base_color_psnr_db > voxels.base_color_psnr_db + 10.0
    # The field's own PSNR (no atlas, no texture) is the ceiling of a voxel bake, and the bake
    # reaches it: the export loses nothing the O-Voxel carries.
    assert abs(voxels.ovoxel_base_color_psnr_db - voxels.base_color_psnr_db) < 0.5
    assert source.ovoxel_base_color_psnr_db == voxels.ovoxel_base_color_psnr_db
