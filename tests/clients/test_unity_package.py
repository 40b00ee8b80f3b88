# SPDX-License-Identifier: MIT
"""Static checks of the Unity package (clients/unity) that need no Unity: manifest and
assembly definitions by UPM conventions, .meta files for every asset, SPDX headers, one type per
file, the core free of UnityEngine, and no blocking waits on the editor's main thread."""

from __future__ import annotations

import json
import re
from pathlib import Path

from unity_meta import PACKAGE, assets, missing, orphans

CORE = PACKAGE / "Editor" / "Core"
SEMVER = re.compile(r"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")
TYPE_DECL = re.compile(
    r"^(?:    )?(?:public |internal |static |sealed |abstract |partial )*"
    r"(?:class|struct|enum|interface) (\w+)",
    re.MULTILINE,
)


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _cs_files() -> list[Path]:
    return sorted(PACKAGE.rglob("*.cs"))


def test_package_manifest_follows_upm_conventions() -> None:
    manifest = _json(PACKAGE / "package.json")
    assert re.match(r"^com\.[a-z0-9-]+\.[a-z0-9.-]+$", manifest["name"])
    assert SEMVER.match(manifest["version"])
    assert manifest["unity"] == "2022.3"
    # Only official Unity packages, pinned to exact versions.
    assert set(manifest["dependencies"]) == {
        "com.unity.cloud.gltfast",
        "com.unity.nuget.newtonsoft-json",
    }
    assert all(SEMVER.match(v) for v in manifest["dependencies"].values())
    for name in ("README.md", "CHANGELOG.md", "LICENSE.md", "Documentation~/index.md"):
        assert (PACKAGE / name).is_file(), name
    changelog = (PACKAGE / "CHANGELOG.md").read_text()
    assert f"## [{manifest['version']}]" in changelog and "Keep a Changelog" in changelog


def test_assembly_definitions_are_editor_only_and_the_core_has_no_engine_reference() -> None:
    core = _json(CORE / "Trellis2.Editor.Core.asmdef")
    glue = _json(PACKAGE / "Editor" / "Trellis2.Editor.asmdef")
    tests = _json(PACKAGE / "Tests" / "Editor" / "Trellis2.Editor.Tests.asmdef")
    for asmdef in (core, glue, tests):
        assert asmdef["includePlatforms"] == ["Editor"]
        assert "Newtonsoft.Json.dll" in asmdef["precompiledReferences"]
    assert core["noEngineReferences"] is True
    assert "Trellis2.Editor.Core" in glue["references"]
    defines = {d["name"]: d["define"] for d in glue["versionDefines"]}
    assert defines == {
        "com.unity.render-pipelines.universal": "TRELLIS2_URP",
        "com.unity.render-pipelines.high-definition": "TRELLIS2_HDRP",
        "com.unity.cloud.gltfast": "TRELLIS2_GLTFAST",
    }
    assert tests["defineConstraints"] == ["UNITY_INCLUDE_TESTS"]
    assert tests["autoReferenced"] is False
    assert {"UnityEngine.TestRunner", "UnityEditor.TestRunner"} <= set(tests["references"])
    assert "nunit.framework.dll" in tests["precompiledReferences"]


def test_every_asset_has_a_meta_file_with_a_unique_guid() -> None:
    assert missing() == [], "run: python tests/clients/unity_meta.py --write"
    assert orphans() == []
    guids = []
    for path in assets():
        meta = path.with_name(path.name + ".meta").read_text()
        match = re.search(r"^guid: ([0-9a-f]{32})$", meta, re.MULTILINE)
        assert match, path
        guids.append(match.group(1))
    assert len(guids) == len(set(guids))


def test_sources_have_spdx_headers_namespace_and_one_top_level_type_per_file() -> None:
    for path in _cs_files():
        text = path.read_text()
        assert text.startswith("// SPDX-License-Identifier: MIT"), path
        assert re.search(r"^namespace Trellis2\.Editor(\.Tests)?$", text, re.MULTILINE), path
        top_level = [m.group(1) for m in TYPE_DECL.finditer(text) if m.group(0).startswith("    ")]
        top_level = [t for t in top_level if not t.startswith("        ")]
        assert top_level == [path.stem], f"{path}: declares {top_level}"


def test_core_never_touches_unity_and_glue_never_blocks_the_main_thread() -> None:
    for path in CORE.rglob("*.cs"):
        text = path.read_text()
        assert not re.search(r"^using Unity(Engine|Editor)", text, re.MULTILINE), path
    for path in (PACKAGE / "Editor").glob("*.cs"):
        text = path.read_text()
        assert ".Result" not in text and ".Wait()" not in text, path
        assert "GetAwaiter().GetResult()" not in text, path
        assert "DisplayProgressBar" not in text and "DisplayDialog" not in text, path
    glue = "\n".join(p.read_text() for p in (PACKAGE / "Editor").glob("*.cs"))
    for api in (
        "Progress.Start(",
        "Progress.RegisterCancelCallback(",
        "[SettingsProvider]",
        "EditorPrefs",
        "[InitializeOnLoad]",
        "PrefabUtility.SaveAsPrefabAsset(",
        "TextureImporterType.NormalMap",
        "sRGBTexture",
        "MeshCollider",
        "LODGroup",
        '[MenuItem("Window/Trellis2/Asset Generator")]',
        "Assets/Create/3D Asset from Image",
    ):
        assert api in glue, api


def test_readme_covers_install_configure_generate_outputs_window_and_troubleshooting() -> None:
    readme = (PACKAGE / "README.md").read_text()
    for heading in (
        "## Install",
        "## Configure",
        "## Generate",
        "## What gets created",
        "## The Asset Generator window",
        "## Troubleshooting",
    ):
        assert heading in readme, heading
    assert "?path=clients/unity" in readme


FIELD = re.compile(
    r"^        (?! )(?:\[SerializeField\] )?(?:private )?(static )?(readonly )?(const )?"
    r"[\w<>\[\],.?]+(?:<[^>]*>)? (\w+)( = .*)?;$"
)


def test_private_fields_follow_unity_naming() -> None:
    """m_ for instance fields, s_ for statics, k_ for constants (and immutable statics)."""
    bad = []
    for path in _cs_files():
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"^        (public|internal|protected|return|var|throw|using)\b", line):
                continue
            match = FIELD.match(line)
            if not match:
                continue
            static, readonly, const, name = match.group(1, 2, 3, 4)
            if const:
                ok = name.startswith("k_")
            elif static:
                ok = name.startswith("s_") or bool(readonly and name.startswith("k_"))
            else:
                ok = name.startswith("m_")
            if not ok:
                bad.append(f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}")
    assert bad == [], "\n".join(bad)
