# SPDX-License-Identifier: MIT
"""Per-job progress lines for the CLI: a redrawn bar block on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

_BAR = 24


@dataclass
class _Line:
    label: str
    state: str = "queued"
    stage: str = ""
    fraction: float = 0.0
    eta: float = -1.0
    note: str = ""
    printed_bucket: int = -1
    printed_state: str = ""


def format_eta(seconds: float) -> str:
    if seconds < 0:
        return "--"
    if seconds < 60:
        return f"{seconds:.0f}s"
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


class ProgressBoard:
    def __init__(self, labels: list[str], stream: TextIO | None = None):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.lines = {label: _Line(label) for label in labels}
        self._drawn = 0
        self._last_draw = 0.0
        self._width = max((len(label) for label in labels), default=0)

    def update(
        self,
        label: str,
        *,
        state: str | None = None,
        stage: str | None = None,
        fraction: float | None = None,
        eta: float | None = None,
        note: str | None = None,
    ) -> None:
        line = self.lines[label]
        if state is not None:
            line.state = state
        if stage is not None:
            line.stage = stage
        if fraction is not None:
            line.fraction = fraction
        if eta is not None:
            line.eta = eta
        if note is not None:
            line.note = note
        if self.tty:
            now = time.monotonic()
            final = line.state in ("done", "failed", "canceled")
            if final or now - self._last_draw > 0.1:
                self._last_draw = now
                self._redraw()
        else:
            self._plain(line)

    def _text(self, line: _Line) -> str:
        filled = round(line.fraction * _BAR)
        bar = "#" * filled + "-" * (_BAR - filled)
        what = line.stage if line.state == "running" else line.state
        tail = f" eta {format_eta(line.eta)}" if line.state == "running" else ""
        note = f" {line.note}" if line.note else ""
        pct = f"{line.fraction * 100:3.0f}%"
        return f"{line.label:<{self._width}} [{bar}] {pct} {what}{tail}{note}"

    def _redraw(self) -> None:
        out = self.stream
        if self._drawn:
            out.write(f"\x1b[{self._drawn}F")
        for line in self.lines.values():
            out.write("\x1b[2K" + self._text(line) + "\n")
        self._drawn = len(self.lines)
        out.flush()

    def _plain(self, line: _Line) -> None:
        bucket = int(line.fraction * 10)
        key = f"{line.state}/{line.stage}"
        if bucket != line.printed_bucket or key != line.printed_state:
            line.printed_bucket, line.printed_state = bucket, key
            self.stream.write(self._text(line) + "\n")
            self.stream.flush()

    def finish(self) -> None:
        if self.tty:
            self._redraw()
