"""Per-sample transforms, test-crop geometry and the device-side batch transforms."""
from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as torch_f

from common.data.transforms import (HALF_MEAN, HALF_STD, IMAGENET_MEAN, IMAGENET_STD, ColorJitter, Compose,
                                    MixupCutmix, MultiScaleCrop, Normalize, RandAugment, RandomCrop,
                                    RandomHorizontalFlip, RandomResizedCrop, ShortSideResize,
                                    ShortSideScaleJitter, TestCrop, horizontal_flip, label_swap_map_from_names,
                                    multi_crop_boxes, name_words, soft_target_cross_entropy)


def make_sample(frames: int = 4, height: int = 48, width: int = 64, label: int = 0, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    return {"clip": torch.randint(0, 256, (frames, 3, height, width), dtype=torch.uint8, generator=generator),
            "label": label}


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_short_side_resize_and_jitter() -> None:
    out = ShortSideResize(32)(make_sample(), gen())["clip"]
    assert out.shape == (4, 3, 32, 42) and out.dtype == torch.uint8  # floor(64 / 48 * 32) = 42
    jitter = ShortSideScaleJitter(30, 40)
    sizes = {jitter(make_sample(), gen(s))["clip"].shape[-2] for s in range(40)}
    assert sizes <= set(range(30, 41)) and len(sizes) > 5
    portrait = ShortSideResize(32)(make_sample(height=64, width=48), gen())["clip"]
    assert portrait.shape[-2:] == (42, 32)
    inverse = ShortSideScaleJitter(256, 320, inverse_uniform=True)(make_sample(height=48, width=48), gen(3))
    assert 256 <= inverse["clip"].shape[-1] <= 320


def test_transforms_are_deterministic_given_the_generator() -> None:
    pipeline = Compose([ShortSideScaleJitter(40, 56), RandomCrop(32), RandomHorizontalFlip(),
                        ColorJitter(0.4, 0.4, 0.4, 0.1), RandAugment("rand-m9-mstd0.5-inc1")])
    first, second = pipeline(make_sample(), gen(7)), pipeline(make_sample(), gen(7))
    assert torch.equal(first["clip"], second["clip"])
    others = [pipeline(make_sample(), gen(s))["clip"] for s in range(8, 12)]
    assert any(not torch.equal(first["clip"], other) for other in others)


def test_random_crop_upper_bound_is_exclusive_like_pyslowfast() -> None:
    # randint(0, H - size) never returns H - size: with one spare pixel the offset is always 0.
    sample = make_sample(height=33, width=33)
    for seed in range(10):
        assert torch.equal(RandomCrop(32)(sample, gen(seed))["clip"], sample["clip"][..., :32, :32])


def test_random_resized_crop_output_and_box_bounds() -> None:
    crop = RandomResizedCrop(24)
    assert crop(make_sample(), gen())["clip"].shape == (4, 3, 24, 24)
    for seed in range(30):
        top, left, box_h, box_w = crop.box(48, 64, gen(seed))
        assert 0 <= top and top + box_h <= 48 and 0 <= left and left + box_w <= 64


def test_multiscale_crop_ssv1_frame_sizes() -> None:
    crop = MultiScaleCrop(224)
    # 176x100 SSv1 frames: sides int(100 * s) = 100, 87, 75, 66 (none within 3 px of 224); 10 pairs.
    pairs = crop.candidate_boxes(100, 176)
    assert len(pairs) == 10
    assert {w for w, _ in pairs} == {100, 87, 75, 66}
    assert all(abs([100, 87, 75, 66].index(w) - [100, 87, 75, 66].index(h)) <= 1 for w, h in pairs)
    snapped = MultiScaleCrop(224).candidate_boxes(256, 340)  # int(256 * .875) = 224 -> snapped, 256 stays
    assert (224, 224) in snapped and (256, 256) in snapped
    out = MultiScaleCrop(32)(make_sample(), gen())
    assert out["clip"].shape == (4, 3, 32, 32)


def test_label_swap_map_pairs_by_name_for_any_order() -> None:
    names = ["Pulling something from left to right", "Holding something", "Turning the camera right while "
             "filming something", "Pulling something from right to left", "Turning the camera left while filming "
             "something", "Pushing something from right to left", "Pushing something from left to right"]
    for seed in range(3):
        order = names[:]
        random.Random(seed).shuffle(order)
        swaps = label_swap_map_from_names(order)
        assert len(swaps) == 6
        for label, other in swaps.items():
            assert swaps[other] == label
            assert order[label].replace("left", "X").replace("right", "left").replace("X", "right") == order[other]
        assert order.index("Holding something") not in swaps


def test_label_swap_pairs_names_split_on_underscores_dashes_and_camel_case() -> None:
    assert name_words("pushLeft_to-right [something]") == ("push", "left", "to", "right", "something")
    names = ["left_to_right", "right_to_left", "TurnLeft", "TurnRight", "wave", "slide-left", "slide-right"]
    swaps = label_swap_map_from_names(names)
    assert swaps == {0: 1, 1: 0, 2: 3, 3: 2, 5: 6, 6: 5}
    assert label_swap_map_from_names(["bright light", "blight"]) == {}  # "bright" is not the word "right"


def test_horizontal_flip_refuses_what_would_corrupt_labels() -> None:
    logged = []
    flips = horizontal_flip("label_swap", ["left_to_right", "right_to_left", "wave"], log=logged.append)
    assert flips[0].label_swap_map == {0: 1, 1: 0}
    assert "1 mirrored class pairs" in logged[0] and "'left_to_right' <-> 'right_to_left'" in logged[0]
    with pytest.raises(ValueError, match="found no pair"):
        horizontal_flip("label_swap", ["jump", "wave"])
    with pytest.raises(ValueError, match="needs the class names"):
        horizontal_flip("label_swap", None)
    with pytest.raises(ValueError, match="direction-sensitive classes .left_to_right"):
        horizontal_flip("plain", ["left_to_right", "right_to_left"])
    assert horizontal_flip("plain", ["jump", "wave"])[0].label_swap_map == {}
    assert horizontal_flip("none", ["left_to_right"]) == []


def test_flip_mirrors_clip_and_swaps_label() -> None:
    sample = make_sample(label=3)
    flipped = RandomHorizontalFlip(1.0, {3: 5, 5: 3})(sample, gen())
    assert flipped["label"] == 5 and torch.equal(flipped["clip"], sample["clip"].flip(-1))
    kept = RandomHorizontalFlip(0.0, {3: 5})(sample, gen())
    assert kept["label"] == 3 and torch.equal(kept["clip"], sample["clip"])
    assert RandomHorizontalFlip(1.0)({"clip": sample["clip"], "label": {"verb": 1}}, gen())["label"] == {"verb": 1}


def test_slowfast_three_crops_follow_the_long_side() -> None:
    # PySlowFast uniform_crop: centre ceil((L - s) / 2), ends 0 and L - s along the long side.
    assert multi_crop_boxes(64, 81, 64, 3, "slowfast") == [(0, 0, False), (0, 9, False), (0, 17, False)]
    assert [b[0] for b in multi_crop_boxes(81, 64, 64, 3, "slowfast")] == [0, 9, 17]
    assert multi_crop_boxes(70, 81, 64, 1, "slowfast") == [(3, 9, False)]
    assert multi_crop_boxes(70, 81, 64, 1, "mmaction") == [(3, 8, False)]


def test_tsm_three_and_ten_crops_match_group_samplers() -> None:
    # masnet spec 2.6: a 176x100 SSv1 frame scaled to short side 256 is 450x256; S=256 crops sit at x=0, 192, 96.
    sample = make_sample(frames=2, height=100, width=176)
    resized = ShortSideResize(256, antialias=True)(sample, gen())["clip"]
    assert resized.shape[-2:] == (256, 450)
    assert [box[1] for box in multi_crop_boxes(256, 450, 256, 3, "tsm")] == [0, 192, 96]
    boxes = multi_crop_boxes(256, 341, 224, 10, "tsm")  # steps (117 // 4, 32 // 4) = (29, 8)
    assert boxes[0::2] == [(0, 0, False), (0, 116, False), (32, 0, False), (32, 116, False), (16, 58, False)]
    assert all(flip for _, _, flip in boxes[1::2]) and [b[:2] for b in boxes[1::2]] == [b[:2] for b in boxes[0::2]]
    clip = make_sample(height=48, width=64)
    mirrored = TestCrop(32, 10, 9, "tsm")(clip)["clip"]
    centre = TestCrop(32, 10, 8, "tsm")(clip)["clip"]
    assert torch.equal(mirrored, centre.flip(-1)) and centre.shape == (4, 3, 32, 32)
    with pytest.raises(ValueError, match="num_crops"):
        TestCrop(32, 10, 0, "slowfast")


def test_color_jitter_probability_and_range() -> None:
    sample = make_sample()
    assert torch.equal(ColorJitter(p=0.0)(sample, gen())["clip"], sample["clip"])
    changed = ColorJitter(0.4, 0.4, 0.4, p=1.0)(sample, gen())["clip"]
    assert changed.dtype == torch.uint8 and not torch.equal(changed, sample["clip"])
    flat = {"clip": torch.full((2, 3, 8, 8), 100, dtype=torch.uint8), "label": 0}
    bright = ColorJitter(0.4, 0.0, 0.0, p=1.0)(flat, gen(1))["clip"]
    assert 60 <= int(bright[0, 0, 0, 0]) <= 140 and torch.unique(bright).numel() == 1  # same factor everywhere


def test_randaugment_parses_timm_string_and_clips_magnitude() -> None:
    augment = RandAugment("rand-m20-mstd0.5-inc1")
    assert augment.magnitude == 20 and augment.magnitude_std == 0.5 and "PosterizeIncreasing" in augment.op_names
    levels = [level for seed in range(30) for _, level, _ in augment.sample_ops(gen(seed))]
    assert levels and all(level == 10.0 for level in levels)  # N(20, 0.5) clipped to 10 (Motionformer spec 4.5)
    with pytest.raises(ValueError, match="cannot parse|unknown"):
        RandAugment("rand-m9-zz")


def test_randaugment_applies_the_same_ops_to_every_frame() -> None:
    frame = make_sample(frames=1)["clip"]
    clip = {"clip": frame.repeat(6, 1, 1, 1), "label": 0}
    augment = RandAugment("rand-m9-mstd0.5-inc1-n3-p1.0")
    for seed in range(12):
        out = augment(clip, gen(seed))["clip"]
        assert out.shape == clip["clip"].shape and out.dtype == torch.uint8
        assert all(torch.equal(out[0], out[t]) for t in range(1, 6))


def test_normalize_on_batches() -> None:
    batch = torch.full((2, 3, 4, 8, 8), 255, dtype=torch.uint8)
    out = Normalize(IMAGENET_MEAN, IMAGENET_STD)(batch)
    assert out.dtype == torch.float32 and out.shape == batch.shape
    expected = (1.0 - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD)
    torch.testing.assert_close(out[0, :, 0, 0, 0], expected)
    assert torch.allclose(Normalize(HALF_MEAN, HALF_STD)(torch.zeros_like(batch)), torch.tensor(-1.0))


def test_mixup_targets_and_clip_blend() -> None:
    clips, labels = torch.randn(4, 3, 2, 8, 8), torch.tensor([0, 1, 2, 3])
    mixup = MixupCutmix(mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.1, num_classes=5)
    mixed, targets = mixup(clips, labels, gen(0))
    torch.testing.assert_close(targets.sum(1), torch.ones(4))
    lam = float(targets[0, 0] - 0.02) / 0.9  # on = 1 - 0.1 + 0.02, off = 0.02, clip 0 mixes with clip 3
    assert 0.0 < lam < 1.0
    torch.testing.assert_close(targets[0, 3], torch.tensor(0.02 + 0.9 * (1 - lam)))
    torch.testing.assert_close(mixed, clips * lam + clips.flip(0) * (1 - lam), atol=1e-5, rtol=1e-5)
    identity = MixupCutmix(0.8, 1.0, 0.1, 5, prob=0.0)(clips, labels, gen(0))
    assert torch.equal(identity[0], clips)
    torch.testing.assert_close(identity[1], torch_f.one_hot(labels, 5) * 0.9 + 0.02)


def test_cutmix_lambda_equals_pasted_area() -> None:
    clips, labels = torch.randn(2, 3, 2, 16, 16), torch.tensor([0, 1])
    for seed in range(5):
        mixed, targets = MixupCutmix(0.0, 1.0, 0.0, 2)(clips, labels, gen(seed))
        pasted = (mixed != clips)[0, 0, 0].float().mean()
        torch.testing.assert_close(targets[0, 1], pasted)  # weight of the partner = its share of pixels
        assert torch.equal((mixed != clips)[0, :, 0], (mixed != clips)[0, :, 1])  # same box in every frame


def test_soft_target_cross_entropy_matches_label_smoothing() -> None:
    logits, labels = torch.randn(6, 5), torch.randint(0, 5, (6,))
    targets = MixupCutmix(0.0, 0.0, 0.1, 5)(torch.zeros(6, 3, 1, 2, 2), labels, gen())[1]
    torch.testing.assert_close(soft_target_cross_entropy(logits, targets),
                               torch_f.cross_entropy(logits, labels, label_smoothing=0.1))
