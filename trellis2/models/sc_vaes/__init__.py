# SPDX-License-Identifier: MIT
"""Sparse-convolutional VAEs (SC-VAE) of TRELLIS.2: shape (flexible dual grid) and texture."""
