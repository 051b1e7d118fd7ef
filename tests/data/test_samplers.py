"""Sampler indices against cases worked out by hand from each reference code base's formulas.

Reference indices are written as the reference returns them; TSM / old-MMAction numbers are 1-based there, so the
tests subtract 1. Every expected list below was computed on paper from the formula quoted next to it.
"""
from __future__ import annotations

import numpy as np
import pytest

from common.data.samplers import (MMActionSampleFrames, SlowFastClipSampler, SlowFastSegmentSampler,
                                  TSNSegmentSampler)


def one_based(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64) - 1


# ----------------------------------------------------------------------------------------------- TSN / TSM / MAS-Net
def test_tsn_test_centres_and_twice_sample_match_tsm_worked_example() -> None:
    # N=37, T=8: tick=4.625, centres int(tick/2 + tick*k) + 1, starts int(tick*k) + 1 (masnet spec 2.5 table).
    sampler = TSNSegmentSampler(8, twice_sample=True)
    assert sampler.num_test_clips == 2
    np.testing.assert_array_equal(sampler.test_indices(37, 0), one_based([3, 7, 12, 17, 21, 26, 31, 35]))
    np.testing.assert_array_equal(sampler.test_indices(37, 1), one_based([1, 5, 10, 14, 19, 24, 28, 33]))
    assert sampler.test_indices(37, 0).dtype == np.int64


def test_tsn_val_rule_short_video_is_first_frame_but_test_rule_spreads() -> None:
    val, test = TSNSegmentSampler(8, test_rule="val"), TSNSegmentSampler(8)
    np.testing.assert_array_equal(val.test_indices(8, 0), np.zeros(8))  # N <= T: all frame 1 (ST-ABN Q5)
    np.testing.assert_array_equal(val.test_indices(37, 0), test.test_indices(37, 0))
    # test rule for N=5: tick=0.625 -> int(0.3125 + 0.625k) = 0,0,1,2,2,3,4,4
    np.testing.assert_array_equal(test.test_indices(5, 0), [0, 0, 1, 2, 2, 3, 4, 4])


def test_tsn_dense_window_val_wraps_and_test_spreads_ten_windows() -> None:
    sampler = TSNSegmentSampler(8, dense_sample=True, test_rule="val")
    # N=37 <= 64: window starts at 0, stride 64//8 = 8, wraps modulo 37 (masnet spec 2.5 "val with dense").
    np.testing.assert_array_equal(sampler.test_indices(37, 0), one_based([1, 9, 17, 25, 33, 4, 12, 20]))
    # N=100: MAS-Net centres the window at (max(1, 100-63) - 1) // 2 = 18.
    np.testing.assert_array_equal(sampler.test_indices(100, 0), 18 + 8 * np.arange(8))
    dense = TSNSegmentSampler(8, dense_sample=True)
    assert dense.num_test_clips == 10
    # TSM test_models: starts = linspace(0, 100 - 64, 10) as int = 0, 4, 8, ..., 36.
    np.testing.assert_array_equal(dense.test_indices(100, 2), 8 + 8 * np.arange(8))
    np.testing.assert_array_equal(dense.test_indices(100, 9), 36 + 8 * np.arange(8))


def test_tsn_dense_train_start_range() -> None:
    sampler = TSNSegmentSampler(8, dense_sample=True)
    rng = np.random.default_rng(0)
    starts = {int(sampler.train_indices(70, rng)[0]) for _ in range(200)}
    assert starts == set(range(0, 6))  # randint(0, 70 - 64), upper bound exclusive
    np.testing.assert_array_equal(sampler.train_indices(50, rng), (8 * np.arange(8)) % 50)  # N <= 64: start 0


def test_masnet_uniform_test_clips() -> None:
    sampler = TSNSegmentSampler(8, uniform_test_clips=10)
    assert sampler.num_test_clips == 10
    # N=37: phases floor(linspace(0, 3.625, 10)) = [0,0,0,1,1,2,2,2,3,3]; clip 3 uses int(4.625k + 1).
    np.testing.assert_array_equal(sampler.test_indices(37, 3), [1, 5, 10, 14, 19, 24, 28, 33])
    np.testing.assert_array_equal(sampler.test_indices(37, 0), [0, 4, 9, 13, 18, 23, 27, 32])
    # N=5 < T, D=3: tick=0.625, linspace(0, -0.375, 3) = [0, -0.1875, -0.375].
    # numpy 1 (int cast truncates): phases [0, 0, 0] -> clip 1 = int(0.625k) = 0,0,1,1,2,3,3,4.
    short = TSNSegmentSampler(8, uniform_test_clips=3)
    assert short.linspace_rule == "numpy1"
    np.testing.assert_array_equal(short.test_indices(5, 1), [0, 0, 1, 1, 2, 3, 3, 4])
    np.testing.assert_array_equal(short.test_indices(5, 2), [0, 0, 1, 1, 2, 3, 3, 4])
    # numpy 2 (floors): phases [0, -1, -1] -> int(0.625k - 1) = -1,0,0,0,1,2,2,3; -1 falls back to frame 0.
    floor = TSNSegmentSampler(8, uniform_test_clips=3, linspace_rule="numpy2")
    np.testing.assert_array_equal(floor.test_indices(5, 1), [0, 0, 0, 0, 1, 2, 2, 3])
    np.testing.assert_array_equal(floor.test_indices(5, 0), [0, 0, 1, 1, 2, 3, 3, 4])
    with pytest.raises(ValueError, match="linspace_rule"):
        TSNSegmentSampler(8, uniform_test_clips=3, linspace_rule="numpy3")


def test_snippets_starting_before_frame_zero_read_frame_zero() -> None:
    # N=2, T=1, L=5: tick = (2-5+1)/1 = -2. Test centre int(-1 + 0) = -1 (1-based 0): the loader falls back to
    # frame 1 for p=0, then p advances while p < 2: p = 0,1,2,2,2 -> frames 1,1,2,2,2 (1-based).
    for sampler in (TSNSegmentSampler(1, new_length=5), TSNSegmentSampler(1, new_length=5, twice_sample=True)):
        np.testing.assert_array_equal(sampler.test_indices(2, 0), one_based([1, 1, 2, 2, 2]))
    # twice's second clip: starts int(-2 * 0) = 0 -> p = 1,2,2,2,2.
    twice = TSNSegmentSampler(1, new_length=5, twice_sample=True)
    np.testing.assert_array_equal(twice.test_indices(2, 1), one_based([1, 2, 2, 2, 2]))
    # Uniform clips N=2, T=1, L=3, D=2: tick 0, phases linspace(0, -1, 2) = [0, -1] in both numpy rules.
    # Clip 0: p = 1,2,2; clip 1: p = 0 (falls back to 1),1,2.
    for rule in ("numpy1", "numpy2"):
        uniform = TSNSegmentSampler(1, new_length=3, uniform_test_clips=2, linspace_rule=rule)
        clips = [uniform.test_indices(2, j) for j in range(2)]
        np.testing.assert_array_equal(np.concatenate(clips), one_based([1, 2, 2, 1, 1, 2]))


def test_tsn_train_offsets_stay_in_their_segment_and_short_video_is_still() -> None:
    sampler = TSNSegmentSampler(8)
    rng = np.random.default_rng(1)
    draws = np.stack([sampler.train_indices(37, rng) for _ in range(300)])  # avg = 37 // 8 = 4
    for k in range(8):
        assert set(draws[:, k].tolist()) == set(range(4 * k, 4 * k + 4))
    np.testing.assert_array_equal(sampler.train_indices(5, rng), np.zeros(8))


def test_tsn_new_length_snippets_tsm_and_old_mmaction() -> None:
    tsm = TSNSegmentSampler(2, new_length=3)
    # N=10: tick=(10-3+1)/2=4, centres 2 and 6, each followed by 2 more frames.
    np.testing.assert_array_equal(tsm.test_indices(10, 0), [2, 3, 4, 6, 7, 8])
    # N=2, T=1, L=3: TSM loads p=1,2,2 (p advances while p < N, 1-based).
    np.testing.assert_array_equal(TSNSegmentSampler(1, new_length=3).train_indices(2, np.random.default_rng(0)),
                                  one_based([1, 2, 2]))
    # ST-ABN _32_2: 1 segment x 32 frames, step 2; old MMAction advances while p + 2 < N (1-based).
    stabn = TSNSegmentSampler(1, new_length=32, new_step=2, test_rule="val", dialect="mmaction_v0")
    np.testing.assert_array_equal(stabn.test_indices(21, 0), one_based(list(range(1, 20, 2)) + [19] * 22))
    # N=100: start int((100-63)/2)+1 = 19 (1-based), 32 frames every 2.
    np.testing.assert_array_equal(stabn.test_indices(100, 0), one_based(list(range(19, 19 + 64, 2))))
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(stabn.train_indices(50, rng)[:3], [0, 2, 4])  # n < 64: start at frame 1
    # _get_test_indices of old MMAction: frame 1 everywhere only when N <= L - 1, centres otherwise.
    test_rule = TSNSegmentSampler(4, new_length=2, dialect="mmaction_v0")
    np.testing.assert_array_equal(test_rule.test_indices(1, 0), np.zeros(8))
    # N=6: tick=(6-2+1)/4=1.25, centres int(0.625 + 1.25k) = 0,1,3,4; a snippet stops before the last frame.
    np.testing.assert_array_equal(test_rule.test_indices(6, 0), [0, 1, 1, 2, 3, 4, 4, 4])


def test_tsn_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        TSNSegmentSampler(8, twice_sample=True, dense_sample=True)
    with pytest.raises(IndexError):
        TSNSegmentSampler(8).test_indices(37, 1)
    with pytest.raises(ValueError, match="at least one frame"):
        TSNSegmentSampler(8).test_indices(0, 0)


# ----------------------------------------------------------------------------------------------------- PySlowFast
def test_slowfast_uniform_views_match_mgma_measured_example() -> None:
    # MGMA spec: 150-frame 25 fps video, 8x8 at 30 fps, 3 views: clip size 53.33, delta 96.67, starts delta*i/3.
    sampler = SlowFastClipSampler(8, 8, num_test_clips=3, target_fps=30)
    np.testing.assert_array_equal(sampler.test_indices(150, 0, fps=25), [0, 7, 14, 22, 29, 37, 44, 52])
    clip1, clip2 = sampler.test_indices(150, 1, fps=25), sampler.test_indices(150, 2, fps=25)
    assert clip1[0] == 32 and clip1[-1] == 84 and clip2[0] == 64 and clip2[-1] == 116


def test_slowfast_short_video_clamps_to_last_frame_and_offset_sampling() -> None:
    sampler = SlowFastClipSampler(8, 8, num_test_clips=2, target_fps=None)
    # clip 64 > N=20: delta 0, linspace(0, 63, 8) = 0, 9, 18, 27, ... clamped to 19.
    np.testing.assert_array_equal(sampler.test_indices(20, 1), [0, 9, 18, 19, 19, 19, 19, 19])
    offset = SlowFastClipSampler(8, 4, num_test_clips=3, target_fps=None, use_offset=True)
    # delta 100-32=68, starts i*floor(68/2): clip 2 = linspace(68, 99, 8) truncated.
    np.testing.assert_array_equal(offset.test_indices(100, 2), [68, 72, 76, 81, 85, 90, 94, 99])


def test_slowfast_fps_from_caller_or_source_fps_else_refuse() -> None:
    sampler = SlowFastClipSampler(8, 8, num_test_clips=3, target_fps=30)
    with pytest.raises(ValueError, match="fps is unknown") as error:
        sampler.test_indices(150, 0)
    assert "SlowFastClipSampler(num_frames=8" in str(error.value)
    with pytest.raises(ValueError, match="fps is unknown"):
        sampler.train_indices(150, np.random.default_rng(0))
    # A folder known to be 25 fps: the same clips as the 25 fps video above (span 53.33).
    folder = SlowFastClipSampler(8, 8, num_test_clips=3, target_fps=30, source_fps=25)
    np.testing.assert_array_equal(folder.test_indices(150, 0), [0, 7, 14, 22, 29, 37, 44, 52])
    # The caller's fps wins over source_fps: at 30 fps the span is 64, delta 86, clip 0 = linspace(0, 63, 8).
    np.testing.assert_array_equal(folder.test_indices(150, 0, fps=30), [0, 9, 18, 27, 36, 45, 54, 63])
    # target_fps=None never needs an fps.
    np.testing.assert_array_equal(SlowFastClipSampler(8, 8, target_fps=None).test_indices(150, 0),
                                  [0, 9, 18, 27, 36, 45, 54, 63])


def test_slowfast_timestamp_trim_starts_at_the_next_whole_frame() -> None:
    # 8x8 at 30 fps, N=300, 10 views: span 64, delta 236, view 1 starts at 23.6.
    exact = SlowFastClipSampler(8, 8, num_test_clips=10, target_fps=30)
    trim = SlowFastClipSampler(8, 8, num_test_clips=10, target_fps=30, timestamp_trim=True)
    # frame-exact: int(23.6 + linspace(0, 63, 8)) = 23, 32, ..., 86.
    np.testing.assert_array_equal(exact.test_indices(300, 1, fps=30), 23 + 9 * np.arange(8))
    # trim: the window starts at ceil(23.6) = 24 and holds frames 24..86 plus one (87): 24 + linspace(0, 63, 8).
    np.testing.assert_array_equal(trim.test_indices(300, 1, fps=30), 24 + 9 * np.arange(8))
    # An integer start (view 0, and view 5: 118.0) is the same in both rules.
    np.testing.assert_array_equal(trim.test_indices(300, 5, fps=30), exact.test_indices(300, 5, fps=30))
    # Short video N=40 < 64: window 0..39 (63 + 1 clamped to the last frame); indices clamp at 39 in both rules.
    np.testing.assert_array_equal(trim.test_indices(40, 3, fps=30), [0, 9, 18, 27, 36, 39, 39, 39])
    # 25 fps video: span 53.33, delta 246.67, view 1 starts at 24.667: window 25..(24.667 + 52.33 = 77) + 1 = 78,
    # linspace(0, 52.33, 8) = 0, 7.48, 14.95, 22.43, 29.9, 37.38, 44.86, 52.33 -> 25 + [0, 7, 14, 22, 29, 37, 44, 52].
    np.testing.assert_array_equal(trim.test_indices(300, 1, fps=25), 25 + np.array([0, 7, 14, 22, 29, 37, 44, 52]))


def test_slowfast_train_start_is_uniform_over_delta() -> None:
    sampler = SlowFastClipSampler(4, 2, target_fps=None)
    rng = np.random.default_rng(0)
    firsts = np.array([sampler.train_indices(20, rng)[0] for _ in range(300)])
    assert firsts.min() == 0 and firsts.max() == 11  # start ~ U(0, 12), truncated
    assert len(set(firsts.tolist())) == 12


def test_slowfast_segment_sampler_ssv2_rule() -> None:
    # seg = 36/8 = 4.5; bounds round(4.5 i) with half-to-even: 0,4,9,14,18,22,27,32,36; test = (s+e)//2.
    sampler = SlowFastSegmentSampler(8)
    np.testing.assert_array_equal(sampler.test_indices(37, 0), [2, 6, 11, 16, 20, 24, 29, 34])
    draws = np.stack([sampler.train_indices(37, np.random.default_rng(s)) for s in range(200)])
    assert draws[:, 0].min() == 0 and draws[:, 0].max() == 4 and draws[:, 7].max() == 36


# ---------------------------------------------------------------------------------------------------- MMAction 0.x
def test_mmaction_test_mode_and_twice_sample() -> None:
    sampler = MMActionSampleFrames(8, 2, 3, twice_sample=True)
    assert sampler.num_test_clips == 6
    # N=60: avg=(60-16+1)/3=15; centres int(15k + 7.5) = 7, 22, 37; twice starts 0, 15, 30.
    np.testing.assert_array_equal(sampler.test_indices(60, 1), 22 + 2 * np.arange(8))
    np.testing.assert_array_equal(sampler.test_indices(60, 4), 15 + 2 * np.arange(8))
    # RawframeDataset adds start_index=1: file numbers are ours + 1, which FrameFolderReader(start_index=1) reads.
    tsm = MMActionSampleFrames(1, 1, 8, twice_sample=True, test_views="per_sample")  # MMAction's TSM test config
    assert tsm.num_test_clips == 2 and tsm.frames_per_clip == 8
    # N=37: avg=37/8=4.625, centres int(4.625k + 2.3125) = 2,6,11,16,20,25,30,34; starts int(4.625k).
    np.testing.assert_array_equal(tsm.test_indices(37, 0), [2, 6, 11, 16, 20, 25, 30, 34])
    np.testing.assert_array_equal(tsm.test_indices(37, 1), [0, 4, 9, 13, 18, 23, 27, 32])


def test_mmaction_short_video_loop_and_repeat_last() -> None:
    loop = MMActionSampleFrames(8, 2, 1, out_of_bound_opt="loop")
    repeat = MMActionSampleFrames(8, 2, 1, out_of_bound_opt="repeat_last")
    # N=10 <= span-1=15: offsets 0; frames 0,2,...,14 -> mod 10 or repeat the last in-range frame (8).
    np.testing.assert_array_equal(loop.test_indices(10, 0), [0, 2, 4, 6, 8, 0, 2, 4])
    np.testing.assert_array_equal(repeat.test_indices(10, 0), [0, 2, 4, 6, 8, 8, 8, 8])


def test_mmaction_train_branches() -> None:
    sampler = MMActionSampleFrames(8, 2, 3)
    rng = np.random.default_rng(0)
    for _ in range(50):  # avg = 45 // 3 = 15: clip k starts in [15k, 15k + 14]
        starts = sampler.train_indices(60, rng).reshape(3, 8)[:, 0]
        assert all(15 * k <= s < 15 * k + 15 for k, s in enumerate(starts))
    # N=16: avg = 1 // 3 = 0 and N <= max(3, 16): starts around(k / 3) = 0, 0, 1.
    np.testing.assert_array_equal(sampler.train_indices(16, rng).reshape(3, 8)[:, 0], [0, 0, 1])
    np.testing.assert_array_equal(sampler.train_indices(10, rng).reshape(3, 8)[:, 0], [0, 0, 0])  # avg < 0


def test_reprs_show_the_construction_arguments() -> None:
    from common.data.transforms import Compose, RandomCrop, ShortSideResize

    assert repr(TSNSegmentSampler(8, twice_sample=True)) == "TSNSegmentSampler(num_segments=8, twice_sample=True)"
    assert (repr(SlowFastClipSampler(8, 4, target_fps=None))
            == "SlowFastClipSampler(num_frames=8, sampling_rate=4, target_fps=None)")
    assert repr(SlowFastSegmentSampler(16)) == "SlowFastSegmentSampler(num_frames=16)"
    assert repr(MMActionSampleFrames(32, 2, 3)) == "MMActionSampleFrames(clip_len=32, frame_interval=2, num_clips=3)"
    assert repr(Compose([ShortSideResize(256), RandomCrop(224)])) == "Compose([ShortSideResize(size=256), RandomCrop(size=224)])"


def test_mmaction2_1x_test_rule() -> None:
    # 3D, clip_len 8, interval 2, 3 clips, N=60: the clip covers 7*2+1 = 15 frames, max_offset 45, step 45/2 = 22.5,
    # starts round([0, 22.5, 45]) = [0, 22, 45] (half to even); 0.x gives centres int(15k + 7.5) = 7, 22, 37.
    new = MMActionSampleFrames(8, 2, 3, dialect="mmaction2_1x")
    old = MMActionSampleFrames(8, 2, 3)
    assert old.dialect == "mmaction2_0x"
    np.testing.assert_array_equal(new.test_indices(60, 0), 2 * np.arange(8))
    np.testing.assert_array_equal(new.test_indices(60, 2), 45 + 2 * np.arange(8))
    np.testing.assert_array_equal(old.test_indices(60, 2), 37 + 2 * np.arange(8))
    # twice: 6 starts round(22.5k) = 0, 22, 45, 68 (67.5 to even), 90, 112 (112.5 to even); clip 3 wraps mod 60.
    twice = MMActionSampleFrames(8, 2, 3, twice_sample=True, dialect="mmaction2_1x")
    assert twice.num_test_clips == 6
    np.testing.assert_array_equal(twice.test_indices(60, 3), (68 + 2 * np.arange(8)) % 60)
    np.testing.assert_array_equal(twice.test_indices(60, 5), (112 + 2 * np.arange(8)) % 60)
    # One clip: max_offset // 2 = 61 - 15 = 46 // 2 = 23.
    np.testing.assert_array_equal(MMActionSampleFrames(8, 2, 1, dialect="mmaction2_1x").test_indices(61, 0),
                                  23 + 2 * np.arange(8))
    # 2D (clip_len 1) with frame_interval 2, 8 clips, N=37: 1.x avg = 37/8 = 4.625 -> 2,6,11,16,20,25,30,34;
    # 0.x avg = (37 - 2 + 1)/8 = 4.5 -> int(4.5k + 2.25) = 2,6,11,15,20,24,29,33.
    tsn = dict(test_views="per_sample")
    np.testing.assert_array_equal(MMActionSampleFrames(1, 2, 8, dialect="mmaction2_1x", **tsn).test_indices(37, 0),
                                  [2, 6, 11, 16, 20, 25, 30, 34])
    np.testing.assert_array_equal(MMActionSampleFrames(1, 2, 8, **tsn).test_indices(37, 0),
                                  [2, 6, 11, 15, 20, 24, 29, 33])
    with pytest.raises(ValueError, match="single 3D clip"):
        MMActionSampleFrames(8, 2, 1, twice_sample=True, dialect="mmaction2_1x")
    with pytest.raises(ValueError, match="dialect"):
        MMActionSampleFrames(8, 2, 1, dialect="mmaction3")


def test_drop_short_videos_per_dialect(caplog) -> None:
    import logging

    from common.data.annotations import VideoRecord
    from common.data.samplers import drop_short_videos

    records = [VideoRecord(f"v{n}", 0, n, source=f"list.txt:{i + 1}") for i, n in enumerate([1, 2, 3, 5])]
    records.append(VideoRecord("clip.mp4", 0, None))  # a video file: the list states no count
    with caplog.at_level(logging.WARNING):
        kept = drop_short_videos(records, "tsm")
    assert [r.path for r in kept] == ["v3", "v5", "clip.mp4"]  # TSM keeps num_frames >= 3
    assert "dropped 2 of 5" in caplog.text and "list.txt:1" in caplog.text
    assert [r.path for r in drop_short_videos(records, "masnet", new_length=5)] == ["v5", "clip.mp4"]
    assert len(drop_short_videos(records, "masnet")) == 5  # new_length 1: nothing is shorter
    assert len(drop_short_videos(records, "tsm", test_mode=True)) == 5  # test lists are not filtered ...
    assert len(drop_short_videos(records, "tsm", test_mode=True, remove_missing=True)) == 3  # ... unless asked
