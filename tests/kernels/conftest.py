# SPDX-License-Identifier: MIT
"""Kernel tests run the real Triton kernels: on CUDA when there is one, else in Triton's CPU
interpreter. Triton picks the interpreter when a kernel is decorated, so TRITON_INTERPRET must be
set before `trellis2_kernels.*` is imported; modules imported earlier (by another test folder)
are dropped so the test modules import them afresh."""

from __future__ import annotations

import os
import sys

import torch

if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
    os.environ["TRITON_INTERPRET"] = "1"
    for name in [m for m in sys.modules if m.startswith("trellis2_kernels.")]:
        del sys.modules[name]
