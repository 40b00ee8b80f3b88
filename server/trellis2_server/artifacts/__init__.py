# SPDX-License-Identifier: MIT
"""Content-addressed artifact store (a directory; digest = SHA-256 of the bytes)."""

from trellis2_server.artifacts.store import ArtifactInfo, ArtifactStore

__all__ = ["ArtifactInfo", "ArtifactStore"]
