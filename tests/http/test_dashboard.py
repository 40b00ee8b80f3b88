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
from http_helpers import HttpServerProcess
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


def test_dashboard_submits_follows_previews_and_downloads(
    built_dashboard: None,
    http_server: HttpServerProcess,
    repo_dir: Path,
    shared_dir: Path,
    tmp_path: Path,
) -> None:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Chromium missing; run scripts/install-tools.sh (apt-get install chromium)")
    env = dict(os.environ, NODE_PATH=str(repo_dir / "tools" / "node" / "node_modules"))
    result = subprocess.run(
        [
            "node",
            str(HERE / "dashboard_e2e.cjs"),
            http_server.url,
            str(shared_dir / "images" / "apple.png"),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr[-3000:] + http_server.log()
    out = json.loads(result.stdout)
    assert out["consoleErrors"] == []
    assert any(chip.startswith("backend ") for chip in out["chips"])
    assert out["state"] == "succeeded", out
    assert out["listed"] == "succeeded"
    assert any("completed" in line for line in out["events"])
    assert out["fractions"][-1] == 1
    # Every request stayed on this server: no CDN.
    assert all(
        url.startswith(http_server.url) or url.startswith("blob:") for url in out["requests"]
    )
    # The empty viewer is flat; with the model in it, the middle is not.
    empty, model = _variance(tmp_path / "empty.png"), _variance(tmp_path / "model.png")
    assert empty < 1.0, empty
    assert model > 50.0, (empty, model)
    assert out["downloadDigest"] == out["expectedDigest"]
    assert re.fullmatch(r"apple.*\.glb", out["downloadName"]), out["downloadName"]
    assert out["variation"]["differentJob"] and out["variation"]["jobs"] >= 2
