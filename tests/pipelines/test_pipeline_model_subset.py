# SPDX-License-Identifier: MIT
"""Loading only the networks a pipeline type needs (`pipeline_types=`), for device memory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trellis2.pipelines import Trellis2ImageTo3DPipeline
from trellis2.pipelines.tiny import TINY_DINOV3_CONFIG, TINY_MODEL_CONFIGS, write_tiny_checkpoint
from trellis2.pipelines.trellis2_image_to_3d import MODEL_NAMES, models_for


def test_each_type_needs_its_own_flows_and_the_cascades_skip_the_512_texture_flow() -> None:
    assert "tex_slat_flow_model_512" not in models_for("1024_cascade")
    assert "shape_slat_flow_model_512" in models_for("1024_cascade")
    assert "shape_slat_flow_model_1024" not in models_for("512")
    assert models_for(["512", "1024_cascade"]) == MODEL_NAMES
    assert models_for(None) == MODEL_NAMES
    with pytest.raises(ValueError, match="pipeline types must be among"):
        models_for("2048")


def test_a_pipeline_loaded_for_the_cascade_holds_seven_networks_and_refuses_512(
    tmp_path: Path,
) -> None:
    root = write_tiny_checkpoint(tmp_path / "tiny", ss_target_voxels=8)
    pipe = Trellis2ImageTo3DPipeline.from_pretrained(str(root), pipeline_types="1024_cascade")
    assert sorted(pipe.models) == sorted(models_for("1024_cascade"))
    assert pipe.default_pipeline_type == "1024_cascade"
    with pytest.raises(ValueError, match="pipeline_types=None"):
        pipe.run(None, pipeline_type="512", preprocess_image=False)


def test_random_subset_networks_get_the_same_weights_as_in_the_full_build() -> None:
    kw = dict(
        random_weights=True, random_configs=TINY_MODEL_CONFIGS, dinov3_config=TINY_DINOV3_CONFIG
    )
    full = Trellis2ImageTo3DPipeline.from_pretrained(None, **kw)
    subset = Trellis2ImageTo3DPipeline.from_pretrained(None, pipeline_types="1024", **kw)
    assert sorted(subset.models) == sorted(models_for("1024"))
    assert subset.default_pipeline_type == "1024"
    for name in ("shape_slat_flow_model_1024", "tex_slat_decoder"):
        ref, got = full.models[name].state_dict(), subset.models[name].state_dict()
        assert all(torch.equal(ref[k], got[k]) for k in ref), name
