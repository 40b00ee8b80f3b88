# SPDX-License-Identifier: MIT
"""Process-wide switches for the speed work, so one run can time the optimised path against
the official way of running the same networks (issue 5's in-run baseline).

    from trellis2 import perf
    with perf.use(perf.BASELINE):      # the official way: unfused glue, separate CFG passes
        pipe.run(...)
    perf.current().cuda_graphs         # what the code paths consult

Every switch changes speed only; outputs agree within the trunk dtype's rounding (tests compare
the two). ``TRELLIS2_PERF=baseline`` selects BASELINE for a whole process, and the older
``TRELLIS2_FUSED=0`` still turns the fused kernels off.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PerfOptions:
    # Triton fused glue kernels (RMSNorm+RoPE, residual+LN+adaLN) where registered.
    fused_kernels: bool = True
    # Classifier-free guidance: conditional and unconditional passes as one batch of 2.
    batch_cfg: bool = True
    # Capture each flow stage's network call once as a CUDA graph and replay it per step.
    cuda_graphs: bool = True
    # The official implementation's glue: fp32 LayerNorm/RMSNorm, RoPE by complex multiply,
    # a host read of the batch size and pageable host->device offset copies per attention call.
    official_glue: bool = False
    # Backends run the export's geometry half (trellis2.generation.export_prefetch) on a side
    # stream while the texture flow and decoder run, instead of after them.
    overlap_export: bool = True


DEFAULT = PerfOptions()
BASELINE = PerfOptions(
    fused_kernels=False,
    batch_cfg=False,
    cuda_graphs=False,
    official_glue=True,
    overlap_export=False,
)


def _from_env() -> PerfOptions:
    opts = BASELINE if os.environ.get("TRELLIS2_PERF", "default") == "baseline" else DEFAULT
    if os.environ.get("TRELLIS2_FUSED", "1") == "0":
        opts = replace(opts, fused_kernels=False)
    return opts


_GLOBAL = _from_env()
_LOCAL = threading.local()


def current() -> PerfOptions:
    """The switches in force for this thread (a `use` block, else the process setting)."""
    return getattr(_LOCAL, "opts", None) or _GLOBAL


@contextmanager
def use(opts: PerfOptions) -> Iterator[PerfOptions]:
    """Run a block with `opts` in this thread; restores the previous switches on exit."""
    prev = getattr(_LOCAL, "opts", None)
    _LOCAL.opts = opts
    try:
        yield opts
    finally:
        _LOCAL.opts = prev
