# SPDX-License-Identifier: MIT
"""Building blocks: sparse tensors and convolution, attention, norms, transformer blocks."""
