# SPDX-License-Identifier: MIT
"""Submanifold 3x3x3 sparse convolution as an implicit GEMM in Triton.

out[p] = bias + sum_v W[:, v, :] @ in[nbr[p, v]] over the taps v whose neighbour exists
(`neighbor_map.py` builds nbr). Seen as a GEMM, the output [N, Co] is A [N, 27 Ci] @ B [27 Ci, Co]
where row p of A is the 27 neighbour rows of p laid end to end (zeros for absent ones). The
kernel never builds A ("implicit" GEMM): each program owns a BLOCK_M x BLOCK_N output tile,
walks the 27 taps, gathers the BLOCK_M neighbour rows of the tap straight from `feats` through
the map, and feeds BLOCK_K-wide slices to `tl.dot` with an fp32 accumulator.

Absent neighbours are skipped twice over: their loads are masked off (no memory traffic), and a
tap that no row of the tile has is skipped as a whole (no MMA either). On a surface shell a voxel
has ~9 of 27 neighbours; to make whole-tap skips frequent the rows are visited in the Gray-code
order of their neighbour masks (`neighbor_order`), as FlexGEMM's masked implicit GEMM does, so a
tile holds rows with nearly the same taps. Output rows are written back in their original order.

Layouts: feats [N, Ci] fp16/bf16/fp32, contiguous; weight [Co, 3, 3, 3, Ci] (FlexGEMM, = [Co, 27,
Ci] with v = 9 kx + 3 ky + kz); bias [Co] or None; neighbor_map int32 [N, 27] (int64 is converted),
-1 = absent.
Output [N, Co] in feats' dtype. fp32 inputs use IEEE fp32 dot products unless allow_tf32.
"""

from __future__ import annotations

import logging

import torch
import triton
import triton.language as tl

from ._launch import check_runnable, interpreting, next_pow2, use_autotune
from .neighbor_map import KERNEL_VOLUME, neighbor_order

_LOGGER = logging.getLogger(__name__)
_TAPS = tl.constexpr(KERNEL_VOLUME)  # jit code may only read constexpr globals


@triton.jit
def _tap_step(
    acc, feats_ptr, weight_ptr, nbr_ptr, rows, m_mask, v, k0, Ci, w_row, offs_k, n_mask,
    INPUT_PRECISION: tl.constexpr, UPCAST_DOT: tl.constexpr,
):  # fmt: skip
    """acc += in[nbr[rows, v], k0:k0+BK] @ W[:, v, k0:k0+BK]^T; absent neighbours load nothing."""
    nbr = tl.load(nbr_ptr + rows * _TAPS + v, mask=m_mask, other=-1)
    valid = nbr >= 0
    src = tl.where(valid, nbr, 0).to(tl.int64) * Ci
    kk = k0 + offs_k
    k_mask = kk < Ci
    a = tl.load(
        feats_ptr + src[:, None] + kk[None, :], mask=valid[:, None] & k_mask[None, :], other=0.0
    )
    b = tl.load(
        weight_ptr + w_row[None, :] + (v * Ci + kk)[:, None],
        mask=k_mask[:, None] & n_mask[None, :],
        other=0.0,
    )
    if UPCAST_DOT:
        a = a.to(tl.float32)
        b = b.to(tl.float32)
    return tl.dot(a, b, acc, input_precision=INPUT_PRECISION)


@triton.jit(do_not_specialize=["N", "N_BUCKET"])
def _sparse_conv_fwd_kernel(
    # pointers
    feats_ptr,  # [N, Ci]
    weight_ptr,  # [Co, 27 * Ci]
    bias_ptr,  # [Co] (unused unless HAS_BIAS)
    nbr_ptr,  # int32 [N, 27]
    order_ptr,  # int32 [N], the row visited at sorted position m (unused unless USE_ORDER)
    out_ptr,  # [N, Co]
    # sizes
    N,
    Ci,
    Co,
    N_BUCKET,  # power of two >= N: the autotune key, so tuning is per size class, not per N
    # meta-parameters
    HAS_BIAS: tl.constexpr,
    USE_ORDER: tl.constexpr,
    INPUT_PRECISION: tl.constexpr,  # "ieee" or "tf32"; ignored for fp16/bf16
    UPCAST_DOT: tl.constexpr,  # interpreter only: Triton 3.6's numpy tl.dot garbles bf16
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_K: tl.constexpr,
    GROUP_M: tl.constexpr,
    COMPACT: tl.constexpr,  # flat, pipelined loop over the tile's present taps
):
    # Grouped tile order: GROUP_M row tiles run across all column tiles before moving on, so the
    # gathered neighbour rows of a row tile are still in L2 when the next column tile needs them.
    pid = tl.program_id(0)
    num_m = tl.cdiv(N, BLOCK_M)
    num_n = tl.cdiv(Co, BLOCK_N)
    group = GROUP_M * num_n
    first_m = (pid // group) * GROUP_M
    group_m = min(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % group) % group_m
    pid_n = (pid % group) // group_m

    offs_m = pid_m.to(tl.int64) * BLOCK_M + tl.arange(0, BLOCK_M)
    m_mask = offs_m < N
    if USE_ORDER:  # noqa: SIM108 - constexpr branch, kept explicit for Triton
        rows = tl.load(order_ptr + offs_m, mask=m_mask, other=0).to(tl.int64)
    else:
        rows = offs_m
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    n_mask = offs_n < Co
    offs_k = tl.arange(0, BLOCK_K)
    w_row = offs_n.to(tl.int64) * (_TAPS * Ci)  # int64: Co * 27 * Ci can pass 2^31

    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    if COMPACT:
        # Masked implicit GEMM: list the taps some row of the tile has (an exclusive prefix sum
        # over the 27 presence flags gives each one its slot), then run one flat loop over
        # (tap slot, K chunk) that Triton can software-pipeline across taps.
        cols = tl.arange(0, 32)
        tile_nbr = tl.load(
            nbr_ptr + rows[:, None] * _TAPS + cols[None, :],
            mask=m_mask[:, None] & (cols[None, :] < _TAPS),
            other=-1,
        )
        present = tl.max((tile_nbr >= 0).to(tl.int32), axis=0)  # [32]
        slot = tl.cumsum(present, axis=0) - present
        k_chunks = tl.cdiv(Ci, BLOCK_K)
        for it in range(0, tl.sum(present, axis=0) * k_chunks):
            j = it // k_chunks
            v = tl.sum(tl.where((slot == j) & (present > 0), cols, 0), axis=0)
            acc = _tap_step(
                acc, feats_ptr, weight_ptr, nbr_ptr, rows, m_mask, v, (it % k_chunks) * BLOCK_K,
                Ci, w_row, offs_k, n_mask, INPUT_PRECISION, UPCAST_DOT,
            )  # fmt: skip
    else:
        for v in range(_TAPS):
            nbr = tl.load(nbr_ptr + rows * _TAPS + v, mask=m_mask, other=-1)
            # A tap that no row of this tile has costs nothing: no loads, no MMA.
            if tl.max((nbr >= 0).to(tl.int32), axis=0) > 0:
                for k0 in range(0, Ci, BLOCK_K):
                    acc = _tap_step(
                        acc, feats_ptr, weight_ptr, nbr_ptr, rows, m_mask, v, k0,
                        Ci, w_row, offs_k, n_mask, INPUT_PRECISION, UPCAST_DOT,
                    )  # fmt: skip

    if HAS_BIAS:
        acc += tl.load(bias_ptr + offs_n, mask=n_mask, other=0.0).to(tl.float32)[None, :]
    out_ptrs = out_ptr + rows[:, None] * Co + offs_n[None, :]
    tl.store(out_ptrs, acc.to(out_ptr.dtype.element_ty), mask=m_mask[:, None] & n_mask[None, :])


def _configs() -> list[triton.Config]:
    """Hopper tiles. Wide tiles (128 x 128/256) for C >= 128; narrow ones for the C = 64 layers at
    1024^3, where N is in the millions and Co is one tile wide; small K blocks for C < 64."""
    cfgs = []
    for bm, bn, bk, warps, stages, compact in [
        # Per-tap loop with whole-tap skips (won every shape on the H100 in the first run).
        (128, 256, 64, 8, 3, False),
        (128, 128, 64, 8, 3, False),
        (128, 64, 64, 4, 4, False),
        (64, 128, 64, 4, 4, False),
        (64, 64, 64, 4, 4, False),
        (128, 128, 32, 4, 4, False),
        (64, 64, 32, 4, 3, False),
        (64, 32, 32, 4, 3, False),
        (64, 16, 16, 2, 3, False),  # tiny channel counts (tests, C = 3..16)
        # Compacted taps in one pipelined loop: aimed at C = 64 with millions of rows, where the
        # per-tap loop has one K step per tap and nothing to overlap the gathers with.
        (128, 256, 64, 8, 3, True),
        (128, 128, 64, 8, 3, True),
        (128, 64, 64, 4, 4, True),
        (64, 64, 64, 4, 4, True),
        (64, 64, 32, 4, 4, True),
        (128, 64, 32, 4, 4, True),
    ]:
        cfgs.append(
            triton.Config(
                {"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk, "GROUP_M": 8, "COMPACT": compact},
                num_warps=warps,
                num_stages=stages,
            )
        )
    return cfgs


def _prune(configs: list[triton.Config], named_args: dict, **_: object) -> list[triton.Config]:
    """Drop tiles far wider than the channel counts: they only multiply zeros."""
    ci, co = named_args["Ci"], named_args["Co"]
    max_k, max_n = max(16, next_pow2(ci)), max(16, next_pow2(co))
    kept = [c for c in configs if c.kwargs["BLOCK_K"] <= max_k and c.kwargs["BLOCK_N"] <= max_n]
    return kept or [c for c in configs if c.kwargs["BLOCK_K"] == 16]


_sparse_conv_fwd_tuned = triton.autotune(
    configs=_configs(),
    key=["N_BUCKET", "Ci", "Co"],  # tensor dtypes are part of the key too
    prune_configs_by={"early_config_prune": _prune},
)(_sparse_conv_fwd_kernel)


# Fallback when autotuning raises: the per-tap loop with the tile that won C = 64 on the H100.
_SAFE_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 64, "BLOCK_K": 32, "GROUP_M": 8, "COMPACT": False}
_AUTOTUNE_FAILED = False


def _launch(
    feats: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    neighbor_map: torch.Tensor,
    order: torch.Tensor | None,
    allow_tf32: bool,
    config: dict | None = None,
) -> torch.Tensor:
    """config: fixed meta-parameters (BLOCK_M/N/K, GROUP_M, COMPACT, num_warps...) instead of
    the autotuner; the interpreter always runs a fixed small config."""
    # 1. check
    check_runnable(feats, weight, neighbor_map)
    n, ci = feats.shape
    co = weight.shape[0]
    if weight.shape != (co, 3, 3, 3, ci):
        raise ValueError(f"weight must be [Co, 3, 3, 3, Ci={ci}]; got {tuple(weight.shape)}")
    if neighbor_map.shape != (n, KERNEL_VOLUME) or neighbor_map.dtype not in (
        torch.int32,
        torch.int64,
    ):
        raise ValueError("neighbor_map must be int32/int64 [N, 27]; use build_neighbor_map")
    if neighbor_map.dtype == torch.int64:
        # Triton 3.6 fails to compile the int64 specialisation on sm_90 (RemoveLayoutConversions:
        # 'arith.select' layout mismatch, seen on the H100 2026-11-25); int32 also halves the
        # map's bytes. Callers that reuse a map should convert it once (integration.py does).
        neighbor_map = neighbor_map.to(torch.int32)
    if weight.dtype != feats.dtype:
        raise TypeError(f"weight dtype {weight.dtype} != feats dtype {feats.dtype}; cast one")
    feats = feats.contiguous()
    weight = weight.contiguous()
    neighbor_map = neighbor_map.contiguous()
    # 2. allocate
    out = torch.empty((n, co), dtype=feats.dtype, device=feats.device)
    if n == 0:
        return out
    # 3. grid and launch
    args = (
        feats,
        weight,
        bias if bias is not None else weight,
        neighbor_map,
        order if order is not None else neighbor_map,
        out,
        n,
        ci,
        co,
        next_pow2(n),
    )
    meta = {
        "HAS_BIAS": bias is not None,
        "USE_ORDER": order is not None,
        "INPUT_PRECISION": "tf32" if allow_tf32 else "ieee",
        "UPCAST_DOT": interpreting() and feats.dtype == torch.bfloat16,
    }

    def grid(m: dict) -> tuple[int]:
        return (triton.cdiv(n, m["BLOCK_M"]) * triton.cdiv(co, m["BLOCK_N"]),)

    global _AUTOTUNE_FAILED
    if config is None and use_autotune(feats) and not _AUTOTUNE_FAILED:
        try:
            _sparse_conv_fwd_tuned[grid](*args, **meta)
            return out
        except Exception as exc:  # a config this Triton/GPU cannot compile: stay usable
            _AUTOTUNE_FAILED = True
            _LOGGER.warning("sparse conv autotuning failed (%s); using %s", exc, _SAFE_CONFIG)
        config = _SAFE_CONFIG
    # The interpreter (one small config keeps CI fast), a forced config, or the fallback.
    fixed = {"BLOCK_M": 32, "BLOCK_N": 16 if co <= 16 else 32, "BLOCK_K": 16, "GROUP_M": 4}
    fixed["COMPACT"] = False
    if config is not None:
        fixed.update(config)
    if not use_autotune(feats):  # the interpreter ignores warps and stages
        fixed = {k: v for k, v in fixed.items() if k.isupper()}
    _sparse_conv_fwd_kernel[grid(fixed)](*args, **meta, **fixed)
    return out


def sparse_conv(
    feats: torch.Tensor,
    neighbor_map: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    order: torch.Tensor | None = None,
    allow_tf32: bool = False,
) -> torch.Tensor:
    """Submanifold 3x3x3 conv of feats [N, Ci] with weight [Co, 3, 3, 3, Ci] -> [N, Co].

    neighbor_map: int32 [N, 27] from `build_neighbor_map`. order: int32 [N] from
    `neighbor_order(neighbor_map)`; pass it cached (it costs a sort). With None no reordering is
    done: every tap is still correct, fewer whole taps are skipped.
    """
    if bias is not None:
        bias = bias.contiguous()
    if order is not None and (order.dtype != torch.int32 or order.shape != (feats.shape[0],)):
        raise ValueError("order must be int32 [N]; build it with neighbor_order(neighbor_map)")
    return _launch(feats, weight, bias, neighbor_map, order, allow_tf32)


def sparse_conv_ref(
    feats: torch.Tensor,
    neighbor_map: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    *,
    chunk_elems: int = 1 << 26,
) -> torch.Tensor:
    """Torch reference: gather the 27 neighbour rows (zeros where absent) and one matmul.

    This is FlexGEMM's explicit GEMM (im2col + addmm), run in row chunks of at most
    `chunk_elems` gathered elements so a 4M-voxel layer does not need a [N, 27 Ci] buffer.
    Accumulates in the input dtype's matmul (fp32 accumulation in cuBLAS for fp16/bf16).
    """
    n, ci = feats.shape
    co = weight.shape[0]
    w = weight.reshape(co, KERNEL_VOLUME * ci).t()  # [27 Ci, Co]
    out = torch.empty((n, co), dtype=feats.dtype, device=feats.device)
    padded = torch.cat([feats, feats.new_zeros(1, ci)])  # row n = zeros for absent taps
    step = max(1, chunk_elems // (KERNEL_VOLUME * max(ci, 1)))
    for s in range(0, n, step):
        idx = neighbor_map[s : s + step].long()
        idx = torch.where(idx >= 0, idx, n)
        cols = padded[idx].reshape(idx.shape[0], KERNEL_VOLUME * ci)  # [rows, 27 Ci]
        res = cols @ w
        if bias is not None:
            res = res + bias
        out[s : s + step] = res
    return out


__all__ = ["neighbor_order", "sparse_conv", "sparse_conv_ref"]
