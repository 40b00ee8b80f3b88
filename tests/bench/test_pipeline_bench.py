# SPDX-License-Identifier: MIT
"""bench/pipeline.py --tiny on the CPU: the structure really comes from the asset, and the
optimised and baseline passes agree (fp32, so tightly). Plus the surface voxeliser on a shape
whose voxels are known exactly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))
from surface_structure import CHILD_OFFSETS, SurfaceLevels, guide_subs, surface_voxels  # noqa: E402

from trellis2.modules.sparse import SparseTensor  # noqa: E402
from trellis2.modules.sparse.spatial import channel2spatial_map  # noqa: E402


def _square(z: float) -> torch.Tensor:
    """Two triangles covering the square [-0.27, 0.27]^2 at height z (unit-box frame)."""
    a, b, c, d = (-0.27, -0.27), (0.27, -0.27), (0.27, 0.27), (-0.27, 0.27)
    return torch.tensor([[[*a, z], [*b, z], [*c, z]], [[*a, z], [*c, z], [*d, z]]])


def test_surface_voxels_of_a_square_are_exactly_the_cells_it_crosses() -> None:
    # At 10^3 the square spans x, y in [2.3, 7.7] voxel units and lies inside layer z = 6.
    got = surface_voxels(_square(0.13), 10)
    want = {(x, y, 6) for x in range(2, 8) for y in range(2, 8)}
    assert {tuple(v) for v in got.tolist()} == want


def test_guides_keep_the_surface_children_in_the_decoders_child_order() -> None:
    levels = SurfaceLevels.from_triangles(_square(0.13), 16, 4)
    coords = levels.coords(4)
    guides, final = guide_subs(coords, 4, 2, levels)
    assert len(final) == levels.count(16)
    # channel2spatial_map on the guide's logits yields the same children in the same order.
    x = SparseTensor(torch.zeros(len(coords), 8), coords)
    for g in guides:
        assert torch.equal(g.coords, x.coords)  # the guide's rows are the decoder's rows
        fine = channel2spatial_map(x, g.feats > 0).fine_coords
        x = SparseTensor(torch.zeros(len(fine), 8), fine)
    assert torch.equal(x.coords, final)
    assert CHILD_OFFSETS[5].tolist() == [1, 0, 1]  # slot k = dx + 2 dy + 4 dz


@pytest.mark.timeout(600)
def test_tiny_pipeline_bench_follows_the_asset_and_baseline_matches(
    shared_dir: Path, tmp_path: Path
) -> None:
    asset = shared_dir / "assets" / "gltf" / "khronos_fox.glb"
    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(BENCH / "pipeline.py"), "--tiny", "--asset", str(asset),
           "--extent", "0.15", "--steps", "1", "--modes", "opt,base,seq,ovl",
           "--export-types", "512", "--json", str(out)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=580)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    surface = {int(r): n for r, n in result["surface_counts"].items()}
    c512, cas = result["types"]["512"]["counts"], result["types"]["1024_cascade"]["counts"]
    assert c512["shape_tokens"] == surface[32] and c512["decoded_voxels"] == surface[512]
    assert cas["lr_tokens"] == surface[32] and cas["upsample_voxels_512"] == surface[512]
    assert cas["shape_tokens"] == surface[64] and cas["decoded_voxels"] == surface[1024]
    assert c512["decoder_follows_surface"] and cas["decoder_follows_surface"]
    assert cas["upsample_follows_surface"]
    assert c512["glb_triangles"] > 0
    for ptype in ("512", "1024_cascade"):
        for mode in ("base", "seq", "ovl"):
            p = result["types"][ptype]["parity"][mode]
            assert p["pass"], (mode, p)
            assert min(t["cosine"] for t in p["tensors"].values()) > 0.99999
        # The backend's way (preview + export after the shape flow), with the export prefetch.
        tail = [r for r in result["types"][ptype]["passes"]["ovl"] if r["stage"].startswith("tail")]
        assert "prefetch used: True" in tail[0]["count"]
        assert result["types"][ptype]["counts"]["faces"] > 0
    assert "| **total without export** |" in proc.stdout
