# SPDX-License-Identifier: MIT
"""The web dashboard in headless Chromium: submit the apple image, watch it complete, see the
3D preview render, download the asset; and the page loads nothing from outside the server."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from http_helpers import ALPHA_KEY, HttpServerProcess, unary
from PIL import Image

pytestmark = [pytest.mark.npm, pytest.mark.timeout(300)]
HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _variance(path: Path) -> float:
    """Pixel variance of the middle half of a screenshot (where the model is framed)."""
    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float64)
    h, w = pixels.shape
    return float(pixels[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4].var())


@pytest.fixture(scope="module")
def built_dashboard(repo_dir: Path) -> None:
    """Builds the bundle if its inputs changed (a no-op otherwise); the server reads it live."""
    subprocess.run([str(repo_dir / "scripts" / "build-dashboard.sh")], check=True, timeout=240)


def _run_dashboard(
    server: HttpServerProcess, repo_dir: Path, image: Path, out_dir: Path, *key: str
) -> dict:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Chromium missing; run scripts/install-tools.sh (apt-get install chromium)")
    env = dict(os.environ, NODE_PATH=str(repo_dir / "tools" / "node" / "node_modules"))
    result = subprocess.run(
        ["node", str(HERE / "dashboard_e2e.cjs"), server.url, str(image), str(out_dir), *key],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:] + server.log()
    out: dict = json.loads(result.stdout)
    assert out["consoleErrors"] == []
    assert out["state"] == "succeeded", out
    assert out["downloadDigest"] == out["expectedDigest"]
    return out


def test_dashboard_submits_follows_previews_and_downloads(
    built_dashboard: None,
    http_server: HttpServerProcess,
    repo_dir: Path,
    shared_dir: Path,
    tmp_path: Path,
) -> None:
    out = _run_dashboard(http_server, repo_dir, shared_dir / "images" / "apple.png", tmp_path)
    assert any(chip.startswith("backend ") for chip in out["chips"])
    # Page load → server status shown, even with software WebGL (was 14 s when the viewer
    # prefiltered its environment map at load time; ~1.3 s now).
    assert out["loadMs"] < 8000, out["loadMs"]
    assert out["listed"] == "succeeded"
    assert any("completed" in line for line in out["events"])
    assert out["fractions"][-1] == 1
    # Every request stayed on this server: no CDN.
    outside = [u for u in out["requests"] if not u.startswith((http_server.url, "blob:", "data:"))]
    assert outside == []
    # The empty viewer is flat; with the model in it, the middle is not.
    empty, model = _variance(tmp_path / "empty.png"), _variance(tmp_path / "model.png")
    assert empty < 1.0, empty
    assert model > 50.0, (empty, model)
    assert re.fullmatch(r"apple.*\.glb", out["downloadName"]), out["downloadName"]
    assert out["variation"]["differentJob"] and out["variation"]["jobs"] >= 2
    # The form's options reached the job spec (the sampler override, then kept by "New seed").
    jobs = unary(http_server.url, "ListJobs", {"pageSize": 500}).json()["jobs"]
    specs = [j["spec"] for j in jobs if j["spec"].get("displayName") == "apple"]
    assert len(specs) >= 2
    assert all(s["sparseStructureSampler"]["steps"] == 12 for s in specs[:2])
    assert all(s["exportOptions"]["textureSize"] == 256 for s in specs[:2])


def test_dashboard_asks_for_the_api_key_and_sends_it_everywhere_with_a_gltf_container(
    built_dashboard: None,
    keyed_server: HttpServerProcess,
    repo_dir: Path,
    shared_dir: Path,
    tmp_path: Path,
) -> None:
    image = shared_dir / "images" / "banana.png"
    out = _run_dashboard(keyed_server, repo_dir, image, tmp_path, ALPHA_KEY, "ASSET_CONTAINER_GLTF")
    assert "API key" in out["bannerBeforeKey"]
    # .gltf + .bin + textures: the viewer resolved every companion file to its artifact URL,
    # and stream, viewer requests and download (fetch + blob) all carried the key.
    assert out["downloads"] >= 3
    assert out["downloadName"].endswith(".gltf")
    assert (out["zipName"], out["zipHead"]) == ("banana.zip", "PK")
    assert _variance(tmp_path / "model.png") > 50.0
