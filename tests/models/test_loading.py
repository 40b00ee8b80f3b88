# SPDX-License-Identifier: MIT
"""from_pretrained refuses files that do not fit; build_random builds without files."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from trellis2.models import CheckpointError, SLatFlowModel, build_random, from_pretrained
from trellis2.models.safetensors_io import _read_fallback, read_safetensors

CONFIG = {
    "name": "SLatFlowModel",
    "args": {
        "resolution": 8,
        "in_channels": 8,
        "out_channels": 8,
        "model_channels": 64,
        "cond_channels": 16,
        "num_blocks": 1,
        "num_heads": 2,
        "mlp_ratio": 2,
        "pe_mode": "rope",
        "share_mod": True,
        "qk_rms_norm": True,
        "qk_rms_norm_cross": True,
        "dtype": "bfloat16",
    },
}


def save_file(state, path):
    from safetensors.torch import save_file as save

    save(state, path)


def _write(tmp_path, state):
    (tmp_path / "m.json").write_text(json.dumps(CONFIG))
    save_file(state, str(tmp_path / "m.safetensors"))
    return tmp_path / "m"


@pytest.fixture
def good_state():
    model = build_random(CONFIG["name"], CONFIG["args"], seed=3)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def test_round_trip_loads_every_tensor_in_its_parameter_dtype(tmp_path, good_state):
    model = from_pretrained(_write(tmp_path, good_state))
    assert isinstance(model, SLatFlowModel)
    for k, v in model.state_dict().items():
        assert torch.equal(v, good_state[k]), k
    assert model.blocks[0].mlp.mlp[0].weight.dtype == torch.bfloat16
    assert model.blocks[0].norm2.weight.dtype == torch.float32
    assert not any(p.is_meta for p in model.parameters())


def test_missing_key_is_named_in_the_error(tmp_path, good_state):
    del good_state["blocks.0.self_attn.to_qkv.weight"]
    with pytest.raises(CheckpointError, match=r"missing: blocks\.0\.self_attn\.to_qkv\.weight"):
        from_pretrained(_write(tmp_path, good_state))


def test_unexpected_key_is_named_in_the_error(tmp_path, good_state):
    good_state["blocks.0.extra"] = torch.zeros(3)
    with pytest.raises(CheckpointError, match=r"unexpected: blocks\.0\.extra"):
        from_pretrained(_write(tmp_path, good_state))


def test_shape_mismatch_names_file_key_and_both_shapes(tmp_path, good_state):
    good_state["out_layer.bias"] = torch.zeros(9)
    with pytest.raises(CheckpointError, match=r"m\.safetensors[\s\S]*out_layer\.bias: file \(9,\)"):
        from_pretrained(_write(tmp_path, good_state))


def test_missing_files_say_how_to_pass_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="without extension"):
        from_pretrained(tmp_path / "nothing")


def test_fixture_file_lacks_rope_phases_and_the_model_recomputes_them(parity_dir, tmp_path):
    assert "rope_phases" not in read_safetensors(parity_dir / "ss_flow.safetensors")
    for ext in ("json", "safetensors"):
        shutil.copy(parity_dir / f"ss_flow.{ext}", tmp_path / f"ss_flow.{ext}")
    model = from_pretrained(tmp_path / "ss_flow", dtype="bfloat16")  # override a JSON arg
    assert model.rope_phases.dtype == torch.complex64 and not model.rope_phases.is_meta
    assert model.blocks[0].self_attn.to_qkv.weight.dtype == torch.bfloat16


def test_build_random_marks_the_model_and_is_seeded():
    a = build_random(CONFIG["name"], CONFIG["args"], seed=1)
    b = build_random(CONFIG["name"], CONFIG["args"], seed=1)
    assert a.random_weights is True
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(va, vb), k


def test_module_to_real_dtype_does_not_break_rope_phases(parity_dir, parity_io):
    d = parity_io("ss_flow")
    model = from_pretrained(parity_dir / "ss_flow")
    with pytest.warns(UserWarning):  # torch warns that casting complex discards the imaginary
        model.to(torch.float64).to(torch.float32)
    out = model(d["input.x"], d["input.t"], d["input.cond"])
    assert torch.allclose(out, d["output.out"], atol=1e-4, rtol=1e-4)


def test_fallback_reader_equals_the_safetensors_package(parity_dir):
    pytest.importorskip("safetensors")
    for name in ("ss_dec.safetensors", "shape_dec_io.safetensors"):
        a = read_safetensors(parity_dir / name)
        b = _read_fallback(parity_dir / name, torch.device("cpu"))
        assert a.keys() == b.keys()
        for k in a:
            assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


@pytest.mark.parametrize(
    "dtype, block_dtype", [("float32", torch.float32), (torch.float16, torch.float16)]
)
def test_build_random_dtype_overrides_the_trunk_precision(dtype, block_dtype):
    flow = build_random(CONFIG["name"], CONFIG["args"], dtype=dtype)
    assert flow.blocks[0].mlp.mlp[0].weight.dtype == block_dtype
    assert flow.out_layer.weight.dtype == torch.float32
    dec_args = {"out_channels": 2, "latent_channels": 4, "num_res_blocks": 1}
    dec = build_random("SparseStructureDecoder", {**dec_args, "channels": [8, 8]}, dtype=dtype)
    assert dec.blocks[0].conv1.weight.dtype == block_dtype


def test_unknown_constructor_arg_names_the_json_file(tmp_path, good_state):
    path = _write(tmp_path, good_state)
    cfg = json.loads((tmp_path / "m.json").read_text())
    cfg["args"]["wobble"] = 1
    (tmp_path / "m.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"m\.json: cannot build SLatFlowModel.*wobble"):
        from_pretrained(path)
