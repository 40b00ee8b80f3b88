# SPDX-License-Identifier: MIT
"""The flow models and the SS decoder reproduce the reference outputs (fp32, random weights)."""

from __future__ import annotations

import pytest
import torch

from tests.utils import assert_verbose_allclose
from trellis2.models import (
    SLatFlowModel,
    SparseStructureDecoder,
    SparseStructureFlowModel,
    from_pretrained,
)
from trellis2.modules.sparse import SparseTensor

TOL = {"atol": 1e-4, "rtol": 1e-4}
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)]


@pytest.mark.parametrize("device", DEVICES)
def test_ss_flow_matches_reference_velocity_and_rope_phases(parity_dir, parity_io, device):
    d = {k: v.to(device) for k, v in parity_io("ss_flow").items()}
    model = from_pretrained(parity_dir / "ss_flow", device=device)
    assert isinstance(model, SparseStructureFlowModel)
    assert_verbose_allclose(model.rope_phases.real, d["aux.rope_phases_real"], name="rope re")
    assert_verbose_allclose(model.rope_phases.imag, d["aux.rope_phases_imag"], name="rope im")
    out = model(d["input.x"], d["input.t"], d["input.cond"])
    assert_verbose_allclose(out, d["output.out"], name="ss_flow out", **TOL)


@pytest.mark.parametrize("device", DEVICES)
def test_slat_flow_shape_matches_reference_on_packed_batch(parity_dir, parity_io, device):
    d = {k: v.to(device) for k, v in parity_io("slat_flow_shape").items()}
    model = from_pretrained(parity_dir / "slat_flow_shape", device=device)
    assert isinstance(model, SLatFlowModel)
    x = SparseTensor(d["input.feats"], d["input.coords"])
    out = model(x, d["input.t"], d["input.cond"])
    assert torch.equal(out.coords, d["input.coords"])
    assert_verbose_allclose(out.feats, d["output.feats"], name="slat_flow_shape", **TOL)


@pytest.mark.parametrize("device", DEVICES)
def test_slat_flow_tex_matches_reference_with_concat_cond(parity_dir, parity_io, device):
    d = {k: v.to(device) for k, v in parity_io("slat_flow_tex").items()}
    model = from_pretrained(parity_dir / "slat_flow_tex", device=device)
    x = SparseTensor(d["input.feats"], d["input.coords"])
    out = model(
        x, d["input.t"], d["input.cond"], concat_cond=x.replace(d["input.concat_cond_feats"])
    )
    assert_verbose_allclose(out.feats, d["output.feats"], name="slat_flow_tex", **TOL)


def test_slat_flow_tex_without_concat_cond_says_what_is_missing(parity_dir, parity_io):
    d = parity_io("slat_flow_tex")
    model = from_pretrained(parity_dir / "slat_flow_tex")
    x = SparseTensor(d["input.feats"], d["input.coords"])
    with pytest.raises(ValueError, match="concat_cond"):
        model(x, d["input.t"], d["input.cond"])


@pytest.mark.parametrize("device", DEVICES)
def test_ss_decoder_matches_reference_logits(parity_dir, parity_io, device):
    d = {k: v.to(device) for k, v in parity_io("ss_dec").items()}
    model = from_pretrained(parity_dir / "ss_dec", device=device)
    assert isinstance(model, SparseStructureDecoder)
    logits = model(d["input.z"])
    assert_verbose_allclose(logits, d["output.logits"], name="ss_dec logits", **TOL)


def test_slat_flow_on_one_sample_alone_equals_its_rows_of_the_batched_run(parity_dir, parity_io):
    d = parity_io("slat_flow_shape")
    model = from_pretrained(parity_dir / "slat_flow_shape")
    x = SparseTensor(d["input.feats"], d["input.coords"])
    first = x.layout[0]
    alone = model(x[0], d["input.t"][:1], d["input.cond"][:1])
    assert_verbose_allclose(alone.feats, d["output.feats"][first], name="sample 0", **TOL)
