# SPDX-License-Identifier: MIT
"""Callers and optional API-key authentication.

Without a keys file auth is off and every caller is team "default". With one, each line reads
`<api key> <team>` (blank lines and `#` comments ignored) and every call must carry
`authorization: Bearer <api key>`. Only SHA-256 hashes of the keys stay in memory.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path

from trellis2_server.core.errors import Unauthenticated

_TEAM = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


@dataclass(frozen=True)
class Caller:
    """Who is calling: the team that owns their jobs, and which key they used."""

    team: str = "default"
    key_name: str = ""


ANONYMOUS = Caller()


class ApiKeys:
    def __init__(self, keys: dict[str, str]):
        # sha256(key) -> team
        self._teams = {hashlib.sha256(k.encode()).hexdigest(): t for k, t in keys.items()}

    @classmethod
    def load(cls, path: Path) -> ApiKeys:
        keys: dict[str, str] = {}
        for n, line in enumerate(path.read_text().splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2 or not _TEAM.match(parts[1]):
                raise ValueError(f"{path}:{n}: expected '<api key> <team>' (team: letters, digits)")
            keys[parts[0]] = parts[1]
        if not keys:
            raise ValueError(f"{path}: no API keys; add '<api key> <team>' lines")
        return cls(keys)

    def authenticate(self, api_key: str | None) -> Caller:
        if not api_key:
            raise Unauthenticated("missing API key; send 'authorization: Bearer <api key>'")
        digest = hashlib.sha256(api_key.encode()).hexdigest()
        for known, team in self._teams.items():
            if hmac.compare_digest(known, digest):
                return Caller(team=team, key_name=known[:8])
        raise Unauthenticated("unknown API key; ask the server admin for a valid one")


def bearer_token(value: str | None) -> str | None:
    """The key from an `authorization` header value (`Bearer <key>`), or None."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
