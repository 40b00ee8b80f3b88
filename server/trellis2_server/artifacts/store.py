# SPDX-License-Identifier: MIT
"""Content-addressed files under `<root>/<aa>/<sha256>`, with the media type in `<sha256>.type`.

Writes are atomic (temporary file + rename in the same folder), so a reader never sees a
partial file and two writers of the same bytes simply race to the same result. Used by the
gateway (input images, reads) and by worker processes (assets, previews); it imports nothing
heavy, so it is safe in both.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class ArtifactInfo:
    digest: str
    size: int
    media_type: str


def is_digest(text: str) -> bool:
    return bool(_DIGEST.match(text))


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        if not is_digest(digest):
            raise ValueError(f"not a SHA-256 hex digest: {digest!r}")
        return self.root / digest[:2] / digest

    def put(self, data: bytes, media_type: str) -> ArtifactInfo:
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            self._atomic_write(target.with_name(digest + ".type"), media_type.encode())
            self._atomic_write(target, data)
        return ArtifactInfo(digest, len(data), media_type)

    def info(self, digest: str) -> ArtifactInfo | None:
        target = self.path(digest)
        try:
            size = target.stat().st_size
        except FileNotFoundError:
            return None
        try:
            media_type = target.with_name(digest + ".type").read_text().strip()
        except FileNotFoundError:
            media_type = "application/octet-stream"
        return ArtifactInfo(digest, size, media_type)

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()

    def read_range(self, digest: str, offset: int, length: int) -> bytes:
        with open(self.path(digest), "rb") as f:
            f.seek(offset)
            return f.read(length)

    @staticmethod
    def _atomic_write(target: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
