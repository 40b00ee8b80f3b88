# SPDX-License-Identifier: MIT
"""gRPC/Connect job server for TRELLIS.2 asset generation."""

__version__ = "0.1.0"
