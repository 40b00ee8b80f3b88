# SPDX-License-Identifier: MIT
"""Sparse voxel tensors and the operations on them."""

from .conv import (
    SparseConv3d,
    build_neighbor_map,
    register_submanifold_conv3d,
    submanifold_conv3d,
    submanifold_conv3d_reference,
)
from .linear import SparseLinear
from .tensor import SparseTensor, sparse_cat

__all__ = [
    "SparseConv3d",
    "SparseLinear",
    "SparseTensor",
    "build_neighbor_map",
    "register_submanifold_conv3d",
    "sparse_cat",
    "submanifold_conv3d",
    "submanifold_conv3d_reference",
]
