# SPDX-License-Identifier: MIT
"""Unity `.meta` files for the UPM package. Packages installed from git are read-only, so Unity
ignores any asset without a committed .meta file. GUIDs are derived from the package-relative
path, so running this again never changes existing ones.

    python tests/clients/unity_meta.py          # list missing or orphaned .meta files
    python tests/clients/unity_meta.py --write  # write the missing ones
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "clients" / "unity"
PACKAGE_NAME = "com.trellis2.assetgen"

_TAIL = "  userData: \n  assetBundleName: \n  assetBundleVariant: \n"
_IMPORTERS = {
    ".cs": "MonoImporter:\n  externalObjects: {}\n  serializedVersion: 2\n  defaultReferences: []\n"
    "  executionOrder: 0\n  icon: {instanceID: 0}\n" + _TAIL,
    ".asmdef": "AssemblyDefinitionImporter:\n  externalObjects: {}\n" + _TAIL,
    "package.json": "PackageManifestImporter:\n  externalObjects: {}\n" + _TAIL,
    "text": "TextScriptImporter:\n  externalObjects: {}\n" + _TAIL,
    "folder": "DefaultImporter:\n  externalObjects: {}\n" + _TAIL,
}


def is_asset(path: Path) -> bool:
    """Unity imports everything except hidden entries and folders ending in '~'."""
    rel = path.relative_to(PACKAGE)
    return not any(part.startswith(".") or part.endswith("~") for part in rel.parts)


def assets() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*") if is_asset(p) and p.suffix != ".meta")


def guid(path: Path) -> str:
    rel = path.relative_to(PACKAGE).as_posix()
    return hashlib.md5(f"{PACKAGE_NAME}/{rel}".encode()).hexdigest()


def meta_text(path: Path) -> str:
    if path.is_dir():
        body = "folderAsset: yes\n" + _IMPORTERS["folder"]
    elif path.name == "package.json":
        body = _IMPORTERS["package.json"]
    else:
        body = _IMPORTERS.get(path.suffix, _IMPORTERS["text"])
    return f"fileFormatVersion: 2\nguid: {guid(path)}\n{body}"


def meta_path(path: Path) -> Path:
    return path.with_name(path.name + ".meta")


def missing() -> list[Path]:
    return [p for p in assets() if not meta_path(p).exists()]


def orphans() -> list[Path]:
    metas = [p for p in PACKAGE.rglob("*.meta") if is_asset(p)]
    return sorted(m for m in metas if not m.with_name(m.name[: -len(".meta")]).exists())


def main() -> int:
    todo = missing()
    for path in todo:
        if "--write" in sys.argv:
            meta_path(path).write_text(meta_text(path))
        print(("wrote " if "--write" in sys.argv else "missing ") + str(meta_path(path)))
    for path in orphans():
        print(f"orphan {path}")
    return 0 if "--write" in sys.argv or not (todo or orphans()) else 1


if __name__ == "__main__":
    sys.exit(main())
