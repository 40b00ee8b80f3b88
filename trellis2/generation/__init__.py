# SPDX-License-Identifier: MIT
"""Backends that turn an image into an asset, and the contract they share."""

from trellis2.generation.types import (
    Backend,
    BackendDescription,
    ExportSettings,
    GeneratedAsset,
    GenerationCanceled,
    GenerationParams,
    OutputFile,
    ProgressReporter,
)

__all__ = [
    "Backend",
    "BackendDescription",
    "ExportSettings",
    "GeneratedAsset",
    "GenerationCanceled",
    "GenerationParams",
    "OutputFile",
    "ProgressReporter",
]
