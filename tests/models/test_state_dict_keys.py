# SPDX-License-Identifier: MIT
"""Full-size configs built on the meta device have exactly the published keys, shapes, dtypes."""

from __future__ import annotations

import json

import pytest

from trellis2.models import PRESETS, build_meta, preset

# Listed from the official constructors (shared/fixtures/trellis2_real_config_state_dict.json).
LISTED = [
    "ss_flow_img_dit_1_3B_64_bf16",
    "slat_flow_img2shape_dit_1_3B_512_bf16",
    "slat_flow_imgshape2tex_dit_1_3B_512_bf16",
    "shape_dec_next_dc_f16c32_fp16",
    "tex_dec_next_dc_f16c32_fp16",
    "ss_dec_conv3d_16l8_fp16",
]


@pytest.fixture(scope="module")
def real_keys(shared_dir):
    return json.loads(
        (shared_dir / "fixtures" / "trellis2_real_config_state_dict.json").read_text()
    )


def _state(name: str) -> dict[str, tuple[tuple[int, ...], str]]:
    cfg = preset(name)
    model = build_meta(cfg["name"], cfg["args"])
    assert all(p.is_meta for p in model.parameters()), "meta build must not allocate"
    return {
        k: (tuple(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in model.state_dict().items()
    }


@pytest.mark.parametrize("name", LISTED)
def test_meta_built_network_has_exactly_the_published_keys_shapes_and_dtypes(name, real_keys):
    ref = real_keys[name]
    expected = {k: (tuple(s), dt) for k, s, dt in ref["keys"]}
    got = _state(name)
    missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    wrong = [
        f"{k}: {got[k]} vs {expected[k]}" for k in expected if k in got and got[k] != expected[k]
    ]
    assert not (missing or extra or wrong), f"missing {missing[:5]} extra {extra[:5]} {wrong[:5]}"
    assert preset(name)["name"] == ref["cls"]
    assert len(got) == ref["num_tensors"]


@pytest.mark.parametrize(
    "name, tensors, params",
    [
        # Not in the listing; counts from the reference spec §10.3 / §9.4.
        ("shape_enc_next_dc_f16c32_fp16", 284, 354_385_392),
        ("tex_enc_next_dc_f16c32_fp16", 284, 354_385_392),
        ("slat_flow_img2shape_dit_1_3B_1024_bf16", 640, 1_292_253_728),
        ("slat_flow_imgshape2tex_dit_1_3B_1024_bf16", 640, 1_292_302_880),
    ],
)
def test_unlisted_presets_have_the_documented_sizes(name, tensors, params):
    cfg = preset(name)
    model = build_meta(cfg["name"], cfg["args"])
    assert len(model.state_dict()) == tensors
    assert sum(p.numel() for p in model.parameters()) == params


def test_every_checkpoint_of_the_release_has_a_preset():
    assert set(LISTED) < set(PRESETS)
    assert len(PRESETS) == 10
