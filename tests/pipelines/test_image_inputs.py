# SPDX-License-Identifier: MIT
"""Preprocessing, background removal plumbing and DINOv3 conditioning on CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from transformers import DINOv3ViTConfig, DINOv3ViTModel

from trellis2.pipelines.image_cond import DinoV3FeatureExtractor, dinov3_layers
from trellis2.pipelines.preprocess import has_alpha, preprocess_image
from trellis2.pipelines.rembg import BiRefNet


def _rgba_disc(w: int, h: int) -> Image.Image:
    yy, xx = np.mgrid[0:h, 0:w]
    arr = np.zeros((h, w, 4), np.uint8)
    arr[..., 0] = 200
    arr[..., 1] = 100
    arr[..., 2] = 50
    inside = (xx - w * 0.6) ** 2 + (yy - h * 0.4) ** 2 < (min(w, h) * 0.2) ** 2
    arr[..., 3] = np.where(inside, 255, 0)
    return Image.fromarray(arr)


def test_has_alpha_needs_rgba_with_some_transparency() -> None:
    assert has_alpha(_rgba_disc(40, 30))
    assert not has_alpha(Image.new("RGBA", (8, 8), (1, 2, 3, 255)))
    assert not has_alpha(Image.new("RGB", (8, 8)))


def test_alpha_image_is_cropped_square_around_foreground_and_premultiplied() -> None:
    img = _rgba_disc(300, 200)  # disc centre (180, 80), radius 40
    out = preprocess_image(img, remove_background=None)
    assert out.mode == "RGB"
    assert out.size[0] == out.size[1]
    assert 70 <= out.size[0] <= 82
    arr = np.asarray(out)
    assert tuple(arr[arr.shape[0] // 2, arr.shape[1] // 2]) == (200, 100, 50)
    assert tuple(arr[0, 0]) == (0, 0, 0)  # corners of the square lie outside the disc


def test_large_images_are_capped_at_1024_before_cropping() -> None:
    out = preprocess_image(_rgba_disc(2048, 1024), remove_background=None)
    # disc radius 0.2 * 1024 = 204.8 px at full size, half that after the cap
    assert 195 <= out.size[0] <= 210


def test_image_without_alpha_goes_through_background_removal() -> None:
    seen = []

    def remove(rgb: Image.Image) -> Image.Image:
        seen.append(rgb.mode)
        return _rgba_disc(*rgb.size)

    preprocess_image(Image.new("RGB", (64, 48), (9, 9, 9)), remove_background=remove)
    assert seen == ["RGB"]


def test_image_without_alpha_and_without_rembg_model_raises_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no alpha channel"):
        preprocess_image(Image.new("RGB", (8, 8)), remove_background=None)


def test_fully_transparent_image_raises_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no foreground"):
        preprocess_image(Image.new("RGBA", (8, 8), (0, 0, 0, 10)), remove_background=None)


class StandInSegmenterForTest(torch.nn.Module):
    """Stands in for BiRefNet's network (real weights cannot exist in CI): logits > 0 on the
    left half of the 1024x1024 input."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        assert x.shape == (1, 3, 1024, 1024)
        logits = torch.full((1, 1, 1024, 1024), -20.0) * self.scale
        logits[..., :512] = 20.0
        return [logits * 0, logits]


def test_birefnet_wrapper_puts_the_predicted_mask_into_alpha_at_input_size() -> None:
    rembg = BiRefNet(model=StandInSegmenterForTest())
    out = rembg(Image.new("RGB", (64, 32), (10, 20, 30)))
    assert out.mode == "RGBA" and out.size == (64, 32)
    alpha = np.asarray(out)[:, :, 3]
    assert alpha[:, :30].min() == 255 and alpha[:, 34:].max() == 0


def _tiny_dinov3() -> DINOv3ViTModel:
    torch.manual_seed(0)
    cfg = DINOv3ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_register_tokens=4,
        patch_size=16,
    )
    model = DINOv3ViTModel(cfg).eval()
    with torch.no_grad():  # make the final norm non-trivial: the features must not use it
        model.norm.weight.normal_()
        model.norm.bias.normal_()
    return model


@pytest.mark.parametrize("size", [512, 1024])
def test_dinov3_features_are_all_tokens_after_last_block_with_plain_layer_norm(size) -> None:
    model = _tiny_dinov3()
    fe = DinoV3FeatureExtractor(model=model, image_size=size)
    images = [_rgba_disc(100, 80), Image.new("RGB", (50, 50), (255, 0, 0))]
    feats = fe(images)
    assert feats.shape == (2, 1 + 4 + (size // 16) ** 2, 32)
    x = fe.pixel_values(images)
    with torch.no_grad():
        h = model.embeddings(x)
        rope = model.rope_embeddings(x)
        for layer in dinov3_layers(model):
            h = layer(h, position_embeddings=rope)
        manual = F.layer_norm(h, (32,), eps=1e-5)
        with_final_norm = model(x).last_hidden_state
    torch.testing.assert_close(feats, manual, rtol=0, atol=0)
    assert not torch.allclose(feats, with_final_norm, atol=1e-3)
