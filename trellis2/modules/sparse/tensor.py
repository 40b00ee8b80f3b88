# SPDX-License-Identifier: MIT
"""`SparseTensor`: features on active voxels, with a spatial cache shared along `.replace()`.

Layout: ``feats`` [N, C] (any float dtype), ``coords`` [N, 4] int32 rows (b, x, y, z) in voxel
index units of the tensor's own grid. Rows of one batch item are contiguous and batch items appear
in increasing order (the reference's convention; nothing here reorders rows).

The spatial cache is one dict shared by every tensor derived with ``replace(feats)`` and by the
tensors that up/down-sampling blocks derive from it. Entries are keyed by grid scale and name and
are valid only for the coords tensor they were computed from, so a neighbour map, RoPE phase table,
batch layout or subdivision map is computed once per voxel set and reused by every later call
(e.g. across all sampler steps).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import torch

Scale = tuple[Fraction, Fraction, Fraction]
_UNIT: Scale = (Fraction(1), Fraction(1), Fraction(1))


class SparseTensor:
    """Sparse voxel features. See the module docstring for layout and cache rules."""

    def __init__(
        self,
        feats: torch.Tensor,
        coords: torch.Tensor,
        shape: torch.Size | None = None,
        *,
        scale: Scale = _UNIT,
        spatial_cache: dict[Any, Any] | None = None,
    ) -> None:
        if coords.dim() != 2 or coords.shape[1] != 4:
            raise ValueError(f"coords must be [N, 4] (b, x, y, z); got {tuple(coords.shape)}")
        if feats.shape[0] != coords.shape[0]:
            raise ValueError(
                f"feats has {feats.shape[0]} rows but coords has {coords.shape[0]}; "
                "they must describe the same voxels"
            )
        if coords.dtype != torch.int32:
            coords = coords.to(torch.int32)
        self.feats = feats
        self.coords = coords
        self._shape = shape
        self._scale = scale
        self._spatial_cache: dict[Any, Any] = {} if spatial_cache is None else spatial_cache

    # ------------------------------------------------------------------ basic properties
    @property
    def shape(self) -> torch.Size:
        """(batch_size, *feature_shape), as the reference reports it."""
        if self._shape is None:
            self._shape = torch.Size([self.batch_size, *self.feats.shape[1:]])
        return self._shape

    @property
    def dtype(self) -> torch.dtype:
        return self.feats.dtype

    @property
    def device(self) -> torch.device:
        return self.feats.device

    @property
    def scale(self) -> Scale:
        return self._scale

    def __len__(self) -> int:
        return self.feats.shape[0]

    def __repr__(self) -> str:
        return (
            f"SparseTensor(n={self.feats.shape[0]}, feats={tuple(self.feats.shape)}, "
            f"dtype={self.dtype}, device={self.device}, scale={tuple(map(str, self._scale))})"
        )

    # ------------------------------------------------------------------ spatial cache
    # An entry is stored with the coords tensor it was computed for and is valid only for that
    # very tensor object (``replace`` keeps it), so two voxel sets can never mix up entries.
    def get_spatial_cache(self, key: str) -> Any:
        entry = self._spatial_cache.get((self._scale, key))
        if entry is None or entry[0] is not self.coords:
            return None
        return entry[1]

    def register_spatial_cache(self, key: str, value: Any) -> None:
        self._spatial_cache[(self._scale, key)] = (self.coords, value)

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """Return the cache entry ``key`` for this voxel set, computing it once."""
        value = self.get_spatial_cache(key)
        if value is None:
            value = compute()
            self.register_spatial_cache(key, value)
        return value

    # ------------------------------------------------------------------ batch layout
    @property
    def batch_counts(self) -> list[int]:
        """Voxels per batch item (host ints; one device sync per voxel set, then cached)."""
        return self.cached("batch_counts", self._compute_batch_counts)

    def _compute_batch_counts(self) -> list[int]:
        if self.coords.shape[0] == 0:
            return []
        return torch.bincount(self.coords[:, 0].long()).tolist()

    @property
    def batch_size(self) -> int:
        return len(self.batch_counts)

    @property
    def equal_length(self) -> int:
        """Rows per batch item when every item has the same non-zero count, else 0 (host int,
        cached). Such a batch is a dense [B, T, ...] block: attention and per-sample
        modulation take the dense path on it (e.g. the batched CFG passes)."""

        def compute() -> int:
            counts = self.batch_counts
            if not counts or counts[0] == 0 or any(n != counts[0] for n in counts):
                return 0
            return counts[0]

        # Boxed: the cache treats None as missing, and 0 is a valid answer.
        return self.cached("equal_length", lambda: (compute(),))[0]

    @property
    def layout(self) -> list[slice]:
        """Row slice of each batch item."""

        def compute() -> list[slice]:
            out, start = [], 0
            for n in self.batch_counts:
                out.append(slice(start, start + n))
                start += n
            return out

        return self.cached("layout", compute)

    @property
    def cu_seqlens(self) -> torch.Tensor:
        """int32 [B+1] cumulative row offsets on the tensor's device (for varlen attention)."""

        def compute() -> torch.Tensor:
            c = torch.tensor([0, *self.batch_counts], dtype=torch.int64).cumsum(0)
            return c.to(device=self.device, dtype=torch.int32)

        return self.cached("cu_seqlens", compute)

    @property
    def batch_ids(self) -> torch.Tensor:
        """int64 [N] batch index of each row (no host sync)."""
        return self.cached("batch_ids", lambda: self.coords[:, 0].long())

    # ------------------------------------------------------------------ derivation
    def replace(self, feats: torch.Tensor, coords: torch.Tensor | None = None) -> SparseTensor:
        """New tensor with other features on the same voxels (shares the spatial cache).

        With ``coords`` given, the voxel set changes and the new tensor gets a fresh cache.
        """
        if coords is None:
            if feats.shape[0] != self.coords.shape[0]:
                raise ValueError(
                    f"replace() got {feats.shape[0]} rows for {self.coords.shape[0]} voxels"
                )
            return SparseTensor(
                feats, self.coords, scale=self._scale, spatial_cache=self._spatial_cache
            )
        return SparseTensor(feats, coords)

    def repeat_batch(self, copies: int) -> SparseTensor:
        """``copies`` copies of the whole batch stacked copy-major, like ``torch.cat([x] * n)``:
        rows of copy j follow copy j-1 and hold batch indices j*B .. j*B + B-1.

        Built once per voxel set (e.g. the conditional and unconditional CFG passes as one
        batch); step features then go in through ``replace`` so the new tensor's caches (batch
        layout, RoPE phases, offsets) are computed once and reused. The batch layout is carried
        over from this tensor, so no host sync is needed when it is already cached here.
        """
        if copies < 1:
            raise ValueError(f"repeat_batch needs copies >= 1, got {copies}")
        counts = self.batch_counts
        b = len(counts)
        offsets = torch.arange(copies, device=self.device, dtype=torch.int32).repeat_interleave(
            self.coords.shape[0]
        )
        coords = self.coords.repeat(copies, 1)
        coords[:, 0] += offsets * b
        out = SparseTensor(self.feats.repeat(copies, 1), coords, scale=self._scale)
        out.register_spatial_cache("batch_counts", counts * copies)
        return out

    def derive(self, feats: torch.Tensor, coords: torch.Tensor, scale: Scale) -> SparseTensor:
        """New voxel set at another grid scale that keeps this tensor's cache dict."""
        return SparseTensor(feats, coords, scale=scale, spatial_cache=self._spatial_cache)

    def type(self, dtype: torch.dtype) -> SparseTensor:
        return self if self.feats.dtype == dtype else self.replace(self.feats.type(dtype))

    def float(self) -> SparseTensor:
        return self.type(torch.float32)

    def half(self) -> SparseTensor:
        return self.type(torch.float16)

    def bfloat16(self) -> SparseTensor:
        return self.type(torch.bfloat16)

    def to(self, *args: Any, **kwargs: Any) -> SparseTensor:
        """Like Tensor.to for the features; coords follow the device, cache is reset on a move."""
        feats = self.feats.to(*args, **kwargs)
        if feats.device == self.coords.device:
            return self.replace(feats)
        return SparseTensor(feats, self.coords.to(feats.device), scale=self._scale)

    def cuda(self) -> SparseTensor:
        return self.to("cuda")

    def cpu(self) -> SparseTensor:
        return self.to("cpu")

    def detach(self) -> SparseTensor:
        return self.replace(self.feats.detach())

    def clone(self) -> SparseTensor:
        return self.replace(self.feats.clone())

    # ------------------------------------------------------------------ arithmetic
    def _other_feats(self, other: Any) -> Any:
        if isinstance(other, SparseTensor):
            if other.coords.shape[0] != self.coords.shape[0]:
                raise ValueError("sparse tensors on different voxel sets cannot be combined")
            return other.feats
        if isinstance(other, torch.Tensor) and other.dim() > 0:
            # A dense tensor is per sample, as in the reference: broadcast it to (B, *C), then
            # give every row its sample's value.
            return torch.broadcast_to(other, self.shape)[self.batch_ids]
        return other

    def __add__(self, other: Any) -> SparseTensor:
        return self.replace(self.feats + self._other_feats(other))

    __radd__ = __add__

    def __sub__(self, other: Any) -> SparseTensor:
        return self.replace(self.feats - self._other_feats(other))

    def __rsub__(self, other: Any) -> SparseTensor:
        return self.replace(self._other_feats(other) - self.feats)

    def __mul__(self, other: Any) -> SparseTensor:
        return self.replace(self.feats * self._other_feats(other))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> SparseTensor:
        return self.replace(self.feats / self._other_feats(other))

    def __rtruediv__(self, other: Any) -> SparseTensor:
        return self.replace(self._other_feats(other) / self.feats)

    def __neg__(self) -> SparseTensor:
        return self.replace(-self.feats)

    def __getitem__(self, idx: int) -> SparseTensor:
        """Batch item ``idx`` as its own single-sample tensor (batch index reset to 0)."""
        if not isinstance(idx, int):
            raise TypeError("SparseTensor indexing takes one batch index (int)")
        sl = self.layout[idx]
        coords = self.coords[sl].clone()
        coords[:, 0] = 0
        return SparseTensor(self.feats[sl], coords, scale=self._scale)


def sparse_cat(tensors: list[SparseTensor], dim: int = -1) -> SparseTensor:
    """Concatenate features of tensors on the same voxels (dim != 0)."""
    if dim == 0:
        raise ValueError("sparse_cat along rows is not supported; build a new SparseTensor")
    return tensors[0].replace(torch.cat([t.feats for t in tensors], dim=dim))
