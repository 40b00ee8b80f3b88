# SPDX-License-Identifier: MIT
"""Triton kernels, each beside the torch reference it must equal."""
