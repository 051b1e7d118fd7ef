"""MMAction2's ``SampleFrames`` as a frame-index sampler (the `common.data.samplers` API; re-exported there)."""
from __future__ import annotations

from typing import Literal

import numpy as np

from common.data.reprs import InitRepr
from common.data.sampler_checks import check_clip_index, check_num_frames

__all__ = ["MMActionSampleFrames"]


class MMActionSampleFrames(InitRepr):
    """MMAction2 ``SampleFrames``: ``num_clips`` clips of ``clip_len`` frames, ``frame_interval`` apart, in two named
    dialects whose test rules differ: ``"mmaction2_0x"`` (branch 0.x, ``mmaction/datasets/pipelines/loading.py``;
    the default) and ``"mmaction2_1x"`` (1.x / main, ``mmaction/datasets/transforms/loading.py``). None of this
    repository's five papers used either (ST-ABN's MMAction v1 rule is ``TSNSegmentSampler(dialect="mmaction_v0")``);
    they serve models trained with MMAction2 and the loader benchmark.

    Train, both dialects (``_get_train_clips``, ``keep_tail_frames=False``): with ``span = clip_len *
    frame_interval`` and ``avg = (N - span + 1) // num_clips``, clip k starts at ``k * avg + randint(avg)``; when
    ``avg == 0`` but ``N > max(num_clips, span)`` the starts are sorted ``randint(N - span + 1)``; when ``avg == 0``
    otherwise the starts are ``around(k * (N - span + 1) / num_clips)``; when ``avg < 0`` (video shorter than one
    clip) all start at 0. The train sample contains all ``num_clips`` clips, concatenated (``frames_per_clip``
    counts them all).

    Test, 0.x (``test_mode=True``): ``avg = (N - span + 1) / num_clips`` (a float); when ``N > span - 1`` clip k
    starts at ``int(k * avg + avg / 2)`` and, with ``twice_sample``, clips ``num_clips..2*num_clips-1`` start at
    ``k * avg``; otherwise (short video) all start at 0; there MMAction forgets ``twice_sample`` and returns only
    ``num_clips`` clips, which breaks the fixed number of views per video, so both halves start at 0 here.

    Test, 1.x: ``clip_len == 1`` (2D models): ``avg = N / num_clips``, centres ``int(k * avg + avg / 2)`` and with
    ``twice_sample`` the starts ``int(k * avg)``, for any N. ``clip_len > 1`` (3D models): the clip covers
    ``(clip_len - 1) * frame_interval + 1`` frames, ``max_offset = max(N - that, 0)``; one clip starts at
    ``max_offset // 2``; K > 1 clips (``2 * num_clips`` with ``twice_sample``) start at
    ``round(k * max_offset / (num_clips - 1))`` (half to even), so the last of ``num_clips`` clips ends on the last
    frame and twice-sampled clips run past it (then wrap or repeat as below). MMAction2 1.x divides by zero for
    ``twice_sample`` with one 3D clip; that setting is refused.

    What a test *view* is depends on the model, as in MMAction's recognizers:

    - ``test_views="per_clip"`` (3D models, e.g. SlowOnly 10 clips): every clip is a view; ``num_test_clips`` is
      ``num_clips`` (doubled by ``twice_sample``) and a view has ``clip_len`` frames;
    - ``test_views="per_sample"`` (TSN/TSM-style 2D models, where the clips are the segments): the
      ``num_clips * clip_len`` frames form one view; ``twice_sample`` adds the segment-start sample as a second.

    Out-of-range frames: ``'loop'`` wraps modulo N; ``'repeat_last'`` replaces them by the clip's last in-range frame.
    MMAction then adds the dataset's ``start_index`` (1 for raw frames, 0 for videos); our readers apply that
    offset themselves, so the returned indices stay 0-based. MMAction2 1.x's ``target_fps`` resampling is not
    offered (use ``SlowFastClipSampler``, whose rule it copies).
    """

    def __init__(self, clip_len: int, frame_interval: int = 1, num_clips: int = 1, *, twice_sample: bool = False,
                 out_of_bound_opt: Literal["loop", "repeat_last"] = "loop",
                 test_views: Literal["per_clip", "per_sample"] = "per_clip",
                 dialect: Literal["mmaction2_0x", "mmaction2_1x"] = "mmaction2_0x") -> None:
        if clip_len < 1 or frame_interval < 1 or num_clips < 1:
            raise ValueError("clip_len, frame_interval and num_clips must be positive")
        if out_of_bound_opt not in ("loop", "repeat_last"):
            raise ValueError(f"out_of_bound_opt must be 'loop' or 'repeat_last', got {out_of_bound_opt!r}")
        if test_views not in ("per_clip", "per_sample"):
            raise ValueError(f"test_views must be 'per_clip' or 'per_sample', got {test_views!r}")
        if dialect not in ("mmaction2_0x", "mmaction2_1x"):
            raise ValueError(f"dialect must be 'mmaction2_0x' or 'mmaction2_1x', got {dialect!r}")
        if dialect == "mmaction2_1x" and twice_sample and clip_len > 1 and num_clips == 1:
            raise ValueError("MMAction2 1.x cannot twice-sample a single 3D clip (it divides by num_clips - 1 = 0)")
        self.dialect = dialect
        self.test_views = test_views
        self.clip_len = clip_len
        self.frame_interval = frame_interval
        self.num_clips = num_clips
        self.twice_sample = twice_sample
        self.out_of_bound_opt = out_of_bound_opt

    @property
    def num_test_clips(self) -> int:
        views = 2 if self.twice_sample else 1
        return views * (self.num_clips if self.test_views == "per_clip" else 1)

    @property
    def frames_per_clip(self) -> int:
        """Frames of one test view (per_clip: a train sample holds ``num_clips`` times as many)."""
        return self.clip_len if self.test_views == "per_clip" else self.clip_len * self.num_clips

    def _clip_frames(self, clip_offsets: np.ndarray, num_frames: int) -> np.ndarray:
        frames = clip_offsets[:, None] + np.arange(self.clip_len)[None, :] * self.frame_interval  # [clips, clip_len]
        if self.out_of_bound_opt == "loop":
            frames = np.mod(frames, num_frames)
        else:
            in_range = frames < num_frames
            last_in_range = np.max(in_range * frames, axis=1, keepdims=True)  # [clips, 1]
            frames = np.where(in_range, frames, last_in_range)
        return frames.reshape(-1).astype(np.int64)  # [clips*clip_len]

    def train_indices(self, num_frames: int, rng: np.random.Generator, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        span = self.clip_len * self.frame_interval
        avg = (num_frames - span + 1) // self.num_clips
        if avg > 0:
            offsets = np.arange(self.num_clips) * avg + rng.integers(0, avg, size=self.num_clips)
        elif num_frames > max(self.num_clips, span):
            offsets = np.sort(rng.integers(0, num_frames - span + 1, size=self.num_clips))
        elif avg == 0:
            offsets = np.around(np.arange(self.num_clips) * ((num_frames - span + 1.0) / self.num_clips))
        else:
            offsets = np.zeros(self.num_clips)
        return self._clip_frames(offsets.astype(np.int64), num_frames)

    def test_indices(self, num_frames: int, clip_index: int, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        check_clip_index(clip_index, self.num_test_clips)
        offsets = (self._test_offsets_1x if self.dialect == "mmaction2_1x" else self._test_offsets_0x)(num_frames)
        if self.test_views == "per_sample":
            return self._clip_frames(offsets[clip_index * self.num_clips:(clip_index + 1) * self.num_clips], num_frames)
        return self._clip_frames(offsets[clip_index:clip_index + 1], num_frames)

    def _test_offsets_0x(self, num_frames: int) -> np.ndarray:
        """Starts of the ``num_clips`` test clips, then of the ``num_clips`` twice-sampled ones."""
        span = self.clip_len * self.frame_interval
        avg = (num_frames - span + 1) / float(self.num_clips)
        if num_frames <= span - 1:
            return np.zeros(2 * self.num_clips, dtype=np.int64)
        base = np.arange(self.num_clips) * avg
        # MMAction concatenates int centres with float starts; frame_inds are truncated by astype(int64) at the end,
        # which for non-negative values equals truncating the start first.
        return np.concatenate([(base + avg / 2.0).astype(np.int64), base.astype(np.int64)])

    def _test_offsets_1x(self, num_frames: int) -> np.ndarray:
        if self.clip_len == 1:
            avg = num_frames / float(self.num_clips)
            base = np.arange(self.num_clips) * avg
            return np.concatenate([(base + avg / 2.0).astype(np.int64), base.astype(np.int64)])
        max_offset = max(num_frames - ((self.clip_len - 1) * self.frame_interval + 1), 0)
        clips = self.num_clips * (2 if self.twice_sample else 1)
        if clips == 1:
            return np.array([max_offset // 2], dtype=np.int64)
        return np.round(np.arange(clips) * (max_offset / float(self.num_clips - 1))).astype(np.int64)
