# SPDX-License-Identifier: MIT
"""Shared launch policy: when a Triton kernel can run, and whether to autotune it.

`TRITON_INTERPRET=1` runs every `@triton.jit` kernel in Triton's numpy interpreter on the CPU
(that is how CI checks the kernels). Triton reads the variable when a kernel is *decorated*, so it
must be set before these modules are imported; tests/kernels/conftest.py does that.
"""

from __future__ import annotations

import os

import torch


def interpreting() -> bool:
    """True when Triton runs kernels in its CPU interpreter."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


def check_runnable(*tensors: torch.Tensor) -> None:
    """Raise a clear error when the Triton kernels cannot run on these tensors."""
    on_cuda = all(t.is_cuda for t in tensors)
    on_cpu = all(t.device.type == "cpu" for t in tensors)
    if on_cuda:
        return
    if on_cpu and interpreting():
        return
    raise RuntimeError(
        "Triton kernels need CUDA tensors (or CPU tensors with TRITON_INTERPRET=1 set before "
        "import); use the *_ref torch function on this device instead"
    )


def use_autotune(t: torch.Tensor) -> bool:
    """Autotune only on a real GPU; the interpreter runs one fixed config."""
    return t.is_cuda and not interpreting()


def _patch_interpreter_scalar_index() -> None:
    """Let Triton 3.6's interpreter use runtime scalars as `range` bounds under numpy >= 2.4.

    The interpreter holds a scalar argument as a 1-element array and converts it with `int(arr)`,
    which numpy 2.4 refuses for arrays of ndim > 0 ("only 0-dimensional arrays can be
    converted"). We re-register `__index__` to read the single element. CPU interpreter only.
    """
    try:
        from triton.runtime import interpreter
    except ImportError:  # pragma: no cover - triton without the interpreter
        return
    original = getattr(interpreter, "_patch_lang_tensor", None)
    if original is None or getattr(original, "_trellis2_patched", False):
        return

    def patched(tensor, scope):  # type: ignore[no-untyped-def]
        original(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.reshape(-1)[0]))

    patched._trellis2_patched = True  # type: ignore[attr-defined]
    interpreter._patch_lang_tensor = patched


if interpreting():
    _patch_interpreter_scalar_index()


def next_pow2(x: int) -> int:
    return 1 if x <= 1 else 1 << (int(x) - 1).bit_length()
