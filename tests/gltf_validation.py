# SPDX-License-Identifier: MIT
"""Run the Khronos glTF Validator (npm `gltf-validator`, tests/gltf_validate.mjs) from Python."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.utils import missing_tool

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "tests" / "gltf_validate.mjs"
MODULE = REPO / "tools" / "node" / "node_modules" / "gltf-validator"


def require_validator() -> str:
    """Path to node; skips the test when node or the validator module is not installed."""
    node = shutil.which("node")
    if node is None or not MODULE.is_dir():
        missing_tool("node or gltf-validator missing: run scripts/test.sh (installs the npm tools)")
    return node


def validate(path: Path) -> dict:
    """Validator report (dict) for a .glb or .gltf file."""
    node = require_validator()
    out = subprocess.run(
        [node, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(out.stdout)


def problems(report: dict) -> list[str]:
    """Errors and warnings of a report as readable lines (empty when the file is clean)."""
    issues = report.get("issues", {})
    return [
        f"{m['code']} (severity {m['severity']}) at {m.get('pointer', '')}: {m['message']}"
        for m in issues.get("messages", [])
        if m["severity"] <= 1
    ]
