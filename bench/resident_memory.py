# SPDX-License-Identifier: MIT
"""Device memory the pipeline's weights hold after building, per pipeline type (issue 5).

Builds the full-size pipeline with RANDOM WEIGHTS (benchmark only) with `pipeline_types=` set
to each type (and once with all networks), with low_vram off (every network resident) and on
(networks parked on the CPU), and prints the allocated device memory after the build and the
build's own peak. The random DINOv3 ViT-L stand-in is included.

    python bench/resident_memory.py
    python bench/resident_memory.py --types 1024_cascade
"""

from __future__ import annotations

import argparse
import gc

import torch

from trellis2.pipelines import Trellis2ImageTo3DPipeline


def measure(types: str | None, low_vram: bool, dev: torch.device) -> tuple[float, float, int]:
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    pipe = Trellis2ImageTo3DPipeline.from_pretrained(
        None, random_weights=True, device=dev, low_vram=low_vram, pipeline_types=types
    )
    resident = (torch.cuda.memory_allocated(dev) - base) / 2**30
    peak = (torch.cuda.max_memory_allocated(dev) - base) / 2**30
    n = len(pipe.models)
    del pipe
    return resident, peak, n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--types", default="all,512,1024,1024_cascade")
    args = p.parse_args()
    dev = torch.device("cuda")
    print("| types | low_vram | networks | resident GiB | build peak GiB |")
    print("|---|---|---|---|---|")
    for t in args.types.split(","):
        for low_vram in (False, True):
            resident, peak, n = measure(None if t == "all" else t, low_vram, dev)
            print(f"| {t} | {low_vram} | {n} | {resident:.2f} | {peak:.2f} |", flush=True)


if __name__ == "__main__":
    main()
