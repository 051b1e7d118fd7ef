"""The reference's data pipeline pieces: the MMAction v1 crop (Q10), the TPN colour jitter (Q11), the short-video
sampling rule (Q5), and the device-side preprocessing."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from projects.st_abn.transforms import (PCA_EIGVAL, PCA_EIGVEC, MMActionV1RandomResizedCrop, MMActionV1Rescale,
                                        STABNPreprocess, STABNSegmentSampler, TPNColorJitter)


def _jitter_one_frame(pixel_rgb: np.ndarray, params: dict, b: int, t: int, bgr_weights: bool) -> np.ndarray:
    """The spec's per-image recipe (4.3) on ``[..., 3]`` pixels: brightness, contrast, saturation, hue, lighting;
    with ``bgr_weights`` the image is BGR while the weights are applied, as in the reference."""
    coins = params["coins"][:, b, t if params["coins"].shape[2] > 1 else 0].numpy()
    img = pixel_rgb[..., ::-1] if bgr_weights else pixel_rgb.copy()
    if coins[0]:
        img = img + float(params["delta"][b])
    if coins[1]:
        img = img * float(params["contrast"][b])
    if coins[2]:
        alpha = float(params["saturation"][b])
        grey = (img * np.array([0.299, 0.587, 0.114])).sum(-1, keepdims=True)
        img = img * alpha + grey * (1.0 - alpha)
    if coins[3]:
        u, w = math.cos(float(params["hue"][b]) * math.pi), math.sin(float(params["hue"][b]) * math.pi)
        bt = np.array([[1.0, 0.0, 0.0], [0.0, u, -w], [0.0, w, u]])
        tyiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.321], [0.211, -0.523, 0.311]])
        ityiq = np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.107, 1.705]])
        img = img @ (ityiq @ bt @ tyiq).T
    rgb_offset = (np.array(PCA_EIGVEC) * params["lighting"][b].numpy()) @ np.array(PCA_EIGVAL)
    img = img + (rgb_offset[::-1] if bgr_weights else rgb_offset)
    return img[..., ::-1] if bgr_weights else img


@pytest.mark.parametrize("reference", [False, True])
def test_colour_jitter_matches_the_per_image_recipe(reference: bool) -> None:
    torch.manual_seed(0)
    jitter = TPNColorJitter(reference_per_frame=reference)
    clips = torch.rand(3, 3, 5, 4, 6, dtype=torch.float64) * 255
    params = jitter.draw(3, 5)
    params["coins"][:, 0] = True  # every operation on the first clip, so each formula is exercised
    out = jitter.apply(clips, params)
    for b in range(3):
        for t in range(5):
            pixels = clips[b, :, t].permute(1, 2, 0).numpy()  # [H, W, 3]
            expected = _jitter_one_frame(pixels, params, b, t, bgr_weights=reference)
            np.testing.assert_allclose(out[b, :, t].permute(1, 2, 0).numpy(), expected, rtol=1e-9, atol=1e-8)
    brighter = {key: value[:, :1, :1] if key == "coins" else value[:1] for key, value in params.items()}
    brighter["delta"] = torch.full((1,), 30.0, dtype=torch.float64)
    brighter["coins"] = torch.tensor([True, False, False, False]).view(4, 1, 1)  # brightness only
    assert jitter.apply(torch.full((1, 3, 1, 2, 2), 250.0, dtype=torch.float64), brighter).max() > 255  # no clipping


def test_colour_coins_are_per_clip_by_default_and_per_frame_as_the_reference() -> None:
    torch.manual_seed(1)
    clips = torch.rand(16, 3, 1, 3, 3).expand(16, 3, 8, 3, 3).contiguous() * 255  # every frame the same image
    same = TPNColorJitter()(clips)
    torch.testing.assert_close(same, same[:, :, :1].expand_as(same))  # one colour change per clip
    flicker = TPNColorJitter(reference_per_frame=True)(clips)
    assert (flicker - flicker[:, :, :1]).abs().amax(dim=(1, 3, 4)).gt(1e-3).any()  # frames differ (Q11)


def test_preprocess_normalises_in_the_0_255_scale_and_jitters_only_in_training() -> None:
    clip = torch.randint(0, 256, (2, 3, 2, 4, 4), dtype=torch.uint8)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    preprocess = STABNPreprocess(mean, std, TPNColorJitter())
    evaluated, labels = preprocess(clip, "labels", False)
    expected = (clip.float() - torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1, 1)) / torch.tensor(
        [58.395, 57.12, 57.375]).view(1, 3, 1, 1, 1)
    torch.testing.assert_close(evaluated, expected, rtol=1e-5, atol=1e-5)
    assert labels == "labels"
    torch.manual_seed(2)
    trained, _ = preprocess(clip, None, True)
    assert trained.shape == clip.shape and (trained - evaluated).abs().max() > 0.01


@pytest.mark.parametrize("height, width", [(100, 176), (256, 341)])
def test_random_resized_crop_axis_mix_up_only_behind_the_flag(height: int, width: int) -> None:
    generator = torch.Generator().manual_seed(3)
    correct = MMActionV1RandomResizedCrop(224)
    reference = MMActionV1RandomResizedCrop(224, reference_axes=True)
    shrunk = 0
    trials = 2000
    for _ in range(trials):
        top, left, box_h, box_w = correct.box(height, width, generator)
        assert 0 <= top and top + box_h <= height and 0 <= left and left + box_w <= width
        state = generator.get_state()
        top, left, box_h, box_w = reference.box(height, width, generator)
        assert 0 <= top and top + box_h <= height and 0 <= left and left + box_w <= width  # clipped like imcrop
        generator.set_state(state)  # replay the same draws to see whether that box was clipped
        shrunk += int(_reference_box_was_clipped(height, width, generator))
    assert 0.25 < shrunk / trials < 0.45  # spec Q10: about 34 % on 100x176 and 256x341 frames
    sample = {"clip": torch.zeros(4, 3, height, width, dtype=torch.uint8)}
    assert reference(sample, generator)["clip"].shape == (4, 3, 224, 224)


def _reference_box_was_clipped(height: int, width: int, generator: torch.Generator) -> bool:
    """Replays ``MMActionV1RandomResizedCrop(reference_axes=True).box`` and says whether its box ran past the frame."""
    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))

    for _ in range(10):
        target = uniform(0.08, 1.0) * height * width
        aspect = uniform(3 / 4, 4 / 3)
        box_w, box_h = int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))
        if uniform(0.0, 1.0) < 0.5:
            box_w, box_h = box_h, box_w
        if box_w <= height and box_h <= width:
            left = int(torch.randint(0, width - box_h + 1, (), generator=generator))
            top = int(torch.randint(0, height - box_w + 1, (), generator=generator))
            return left + box_w > width or top + box_h > height
    return False


def test_rescale_rounds_as_mmcv() -> None:
    sample = {"clip": torch.zeros(2, 3, 100, 176, dtype=torch.uint8)}
    assert MMActionV1Rescale(256)(sample)["clip"].shape == (2, 3, 256, 451)  # 176 * 2.56 = 450.56 -> 451


def test_short_video_rule() -> None:
    rng = np.random.default_rng(0)
    reference = STABNSegmentSampler(32, test_rule="val", reference_short_video=True)
    correct = STABNSegmentSampler(32, test_rule="val")
    for frames in (20, 32):  # the reference: all first frame for N <= 32 in validation (Q5)
        assert reference.test_indices(frames, 0).tolist() == [0] * 32
        assert correct.test_indices(frames, 0).tolist() == [int(frames / 32 / 2 + frames / 32 * k) for k in range(32)]
    assert correct.test_indices(32, 0).tolist() == list(range(32))
    assert reference.train_indices(31, rng).tolist() == [0] * 32
    spread = correct.train_indices(20, rng)
    assert spread.min() >= 0 and spread.max() <= 19 and (np.diff(spread) >= 0).all() and len(set(spread)) > 10
    long_video = 100  # unaffected by the flag
    assert correct.test_indices(long_video, 0).tolist() == reference.test_indices(long_video, 0).tolist()
    window = STABNSegmentSampler(1, new_length=32, new_step=2, test_rule="val")  # the _32_2 setting
    assert window.test_indices(200, 0).tolist() == list(range(68, 132, 2))  # int((200 - 63) / 2) + 1, 1-based
    assert window.test_indices(20, 0).tolist() == list(range(0, 18, 2)) + [18] * 23  # repeats the last reachable
