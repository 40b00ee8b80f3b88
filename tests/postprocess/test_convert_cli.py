# SPDX-License-Identifier: MIT
"""`trellis2 convert INPUT -o OUTPUT --resolution R --report` end to end (in-process CLI)."""

from __future__ import annotations

import json

import pytest
from trellis2_server.cli import main as cli_main


def test_convert_writes_the_asset_and_reports_fidelity_as_json(shared_dir, tmp_path, capsys):
    out = tmp_path / "fox.glb"
    code = cli_main(
        [
            "convert",
            str(shared_dir / "assets" / "gltf" / "khronos_fox.glb"),
            "-o",
            str(out),
            "--resolution",
            "48",
            "--texture-size",
            "128",
            "--decimation-target",
            "3000",
            "--profile",
            "unity",
            "--report",
        ]
    )
    assert code == 0
    assert out.read_bytes()[:4] == b"glTF"
    report = json.loads(capsys.readouterr().out)
    assert report["resolution"] == 48
    assert 0 < report["triangles"] <= 3000
    assert 0 <= report["chamfer_voxels"] < 0.5
    assert report["base_color_psnr_db"] > 15
    assert report["bake_from"] == "source"
    # The O-Voxel field's own colour fidelity is reported beside the file's.
    assert report["ovoxel_base_color_psnr_db"] > 10
    assert 0.2 < report["atlas_fill"] <= 1.0


def test_fit_attributes_without_a_voxel_bake_is_refused_before_any_work(
    shared_dir, tmp_path, capsys
):
    out = tmp_path / "fox.glb"
    src = str(shared_dir / "assets" / "gltf" / "khronos_fox.glb")
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["convert", src, "-o", str(out), "--fit-attributes"])
    assert exit_info.value.code == 2
    assert "--bake-from voxels" in capsys.readouterr().err
    assert not out.exists()
