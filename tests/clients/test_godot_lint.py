# SPDX-License-Identifier: MIT
"""The Godot addon's GDScript parses, lints and is formatted (gdtoolkit 4: gdlint, gdformat).

Godot itself is not available in CI, so this is the check that every script at least parses
with the GDScript 4 grammar and follows the house style (clients/godot/gdlintrc). The addon's
logic is tested by clients/godot/test/*.gd under `godot --headless` (see clients/godot/README.md).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GODOT = REPO / "clients/godot"
BIN = Path(sys.executable).parent
SCRIPTS = sorted(p for p in GODOT.rglob("*.gd") if ".godot" not in p.parts)


def _tool(name: str) -> str:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{name} not found next to {sys.executable}; pip install 'gdtoolkit>=4.3'")
    return str(path)


def test_the_addon_and_its_tests_have_scripts_to_check() -> None:
    names = {p.name for p in SCRIPTS}
    assert {"plugin.gd", "client.gd", "envelope.gd", "job_model.gd", "importer.gd"} <= names
    assert any(p.parent.name == "test" and p.name.startswith("test_") for p in SCRIPTS)


def test_gdlint_finds_no_problems() -> None:
    # Run from clients/godot so gdlint picks up clients/godot/gdlintrc.
    result = subprocess.run(
        [_tool("gdlint"), *[str(p.relative_to(GODOT)) for p in SCRIPTS]],
        cwd=GODOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_gdformat_check_passes() -> None:
    result = subprocess.run(
        [_tool("gdformat"), "--check", *[str(p.relative_to(GODOT)) for p in SCRIPTS]],
        cwd=GODOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, (
        result.stdout + result.stderr + "\nrun: cd clients/godot && gdformat <files>"
    )


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(GODOT)))
def test_script_has_spdx_header_and_class_doc(path: Path) -> None:
    text = path.read_text()
    assert text.startswith("# SPDX-License-Identifier: MIT\n"), "missing SPDX header"
    assert re.search(r"^## ", text, re.MULTILINE), "missing `##` class documentation"


def test_class_names_are_unique_and_prefixed() -> None:
    names = [
        m.group(1)
        for p in SCRIPTS
        if (m := re.search(r"^class_name (\w+)", p.read_text(), re.MULTILINE))
    ]
    assert len(names) == len(set(names)), names
    assert all(n.startswith("Trellis2") for n in names), names
