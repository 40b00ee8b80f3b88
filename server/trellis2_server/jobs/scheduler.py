# SPDX-License-Identifier: MIT
"""Which queued job runs next: round robin across teams, then priority, then FIFO."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from trellis2_server.jobs.store import QueuedHead


def pick_next(
    heads: Sequence[QueuedHead],
    running_per_team: Mapping[str, int],
    last_team: str | None,
    per_team_limit: int = 0,
) -> QueuedHead | None:
    """`heads` come in priority-then-FIFO order. Each team offers its first job; the team after
    `last_team` (in name order, wrapping around) that is under `per_team_limit` wins."""
    first: dict[str, QueuedHead] = {}
    for head in heads:
        if head.team in first:
            continue
        if per_team_limit and running_per_team.get(head.team, 0) >= per_team_limit:
            continue
        first[head.team] = head
    if not first:
        return None
    teams = sorted(first)
    if last_team is not None:
        later = [t for t in teams if t > last_team]
        teams = later + [t for t in teams if t <= last_team]
    return first[teams[0]]
