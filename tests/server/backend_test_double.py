# SPDX-License-Identifier: MIT
"""A backend test double for scheduling, lease and crash tests only (end-to-end tests use the
real preview backend). It sleeps through a few progress steps and returns a tiny fixed file.

Its behaviour is steered by the display_name of the job: "crash" kills the worker process
mid-run on the first attempt (a hard crash), "fail" raises, "slow" takes ten times longer.
"""

from __future__ import annotations

import os
import time

from trellis2.generation.types import BackendDescription, GeneratedAsset, OutputFile


class SleepyBackendTestDouble:
    name = "sleepy_test_double"
    step_s = 0.05
    steps = 6

    def describe(self) -> BackendDescription:
        return BackendDescription(
            name=self.name,
            models=(),
            model_revision="test-double-1",
            random_weights=False,
            pipeline_types=("512", "1024", "1024_cascade", "1536_cascade"),
            device="cpu",
        )

    def generate(self, image, params, reporter):  # type: ignore[no-untyped-def]
        steps = self.steps * (10 if params.display_name.startswith("slow") else 1)
        for i in range(steps):
            reporter.progress("sleep", i, steps, i / steps)
            first_attempt = params.provenance.get("attempt") == 1
            if params.display_name.startswith("crash") and i == 2 and first_attempt:
                os._exit(3)
            if params.display_name.startswith("fail") and i == 2:
                raise RuntimeError("the test double was told to fail")
            time.sleep(self.step_s)
        reporter.progress("sleep", steps, steps, 1.0)
        body = f"{params.display_name} {params.seed} {image.size}".encode()
        return GeneratedAsset(
            files=(OutputFile(f"{params.display_name}.bin", body, "application/octet-stream"),),
            triangle_count=1,
            vertex_count=3,
            texture_count=0,
            texture_size=params.export.texture_size,
            texture_format=params.export.texture_format,
            alpha_mode="OPAQUE",
            extent=(1.0, 1.0, 1.0),
        )


class BrokenBackendTestDouble:
    """A backend whose loading fails, like the trellis2 backend without its weights."""

    def __init__(self) -> None:
        raise RuntimeError("weights not found at /nowhere (test double)")
