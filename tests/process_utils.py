# SPDX-License-Identifier: MIT
"""Stopping the server subprocesses that the test suites start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess


def stop_process_group(proc: subprocess.Popen) -> None:
    """SIGTERM (graceful stop), SIGKILL after 30 s, then kill the whole process group so no
    worker outlives the test. `proc` must have been started with `start_new_session=True`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if proc.stdout is not None:
        proc.stdout.close()
