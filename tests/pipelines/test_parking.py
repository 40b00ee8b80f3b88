# SPDX-License-Identifier: MIT
"""PinnedParking: weights off the device between uses, identical outputs while in use."""

from __future__ import annotations

import pytest
import torch

from trellis2.pipelines.parking import PinnedParking


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.LayerNorm(256)).eval()


def test_parked_module_computes_the_same_inside_on_device_and_stays_on_the_host():
    net = _net()
    x = torch.randn(8, 64)
    want = net(x)
    parking = PinnedParking(net, "cpu")
    with parking.on_device() as module:
        got = module(x)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert all(p.device.type == "cpu" for p in net.parameters())


@pytest.mark.gpu
def test_parking_frees_the_device_copy_and_uploads_it_for_each_use():
    dev = torch.device("cuda")
    net = _net().to(dev)
    x = torch.randn(8, 64, device=dev)
    with torch.no_grad():  # an autograd graph would keep the weights alive
        want = net(x)
    size = sum(p.numel() * p.element_size() for p in net.parameters())
    slack = 512 * len(list(net.parameters()))  # the allocator rounds blocks to 512 bytes
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated(dev)
    parking = PinnedParking(net, dev)
    assert torch.cuda.memory_allocated(dev) <= before - size + slack
    assert all(p.device.type == "cpu" and p.is_pinned() for p in net.parameters())
    with parking.on_device() as module, torch.no_grad():
        assert all(p.device.type == "cuda" for p in module.parameters())
        got = module(x)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    torch.cuda.synchronize()
    assert torch.cuda.memory_allocated(dev) <= before - size + slack + got.numel() * 4


@pytest.mark.gpu
def test_resident_pipeline_parks_the_image_encoder_and_conditions_the_same():
    from PIL import Image

    from trellis2.pipelines import Trellis2ImageTo3DPipeline
    from trellis2.pipelines.tiny import TINY_DINOV3_CONFIG, TINY_MODEL_CONFIGS

    pipe = Trellis2ImageTo3DPipeline.from_pretrained(
        None, random_weights=True, device="cuda", low_vram=False,
        random_configs=TINY_MODEL_CONFIGS, dinov3_config=TINY_DINOV3_CONFIG,
    )  # fmt: skip
    image = Image.new("RGB", (64, 64), (120, 90, 60))
    want = pipe.get_cond([image], 512)["cond"]
    assert pipe.park_image_cond_model()
    got = pipe.get_cond([image], 512)["cond"]
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert all(p.device.type == "cpu" for p in pipe.image_cond_model.model.parameters())
