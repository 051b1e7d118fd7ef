"""Frame-index samplers, each named after the code base whose rule it reproduces.

Every sampler has a random train rule and a deterministic test rule, and returns **0-based** frame indices
(``int64``). A reader maps index ``i`` to the file or frame it names; for JPEG folders that is
``FrameFolderReader(start_index=1)`` reading ``img_{i + 1:05d}.jpg``, so the TSM repo's 1-based frame numbers and
MMAction's ``frame_inds + start_index`` land on the same file as ours.

API shared by all samplers::

    sampler.num_test_clips                                  # temporal views per video at test time
    sampler.frames_per_clip                                 # length of every returned index array
    sampler.train_indices(num_frames, rng, fps=None)        # rng: np.random.Generator
    sampler.test_indices(num_frames, clip_index, fps=None)  # 0 <= clip_index < num_test_clips

Dialects:

- :class:`TSNSegmentSampler`: the TSM repo's ``TSNDataSet`` (``ops/dataset.py``), which MAS-Net and the old
  MMAction ``RawFramesDataset`` used by ST-ABN copy, plus MAS-Net's test-time "dense" multi-clip rule.
- :class:`SlowFastClipSampler`: PySlowFast's ``decoder.get_start_end_idx`` + ``temporal_sampling``.
- :class:`SlowFastSegmentSampler`: PySlowFast's Something-Something ``get_seq_frames`` (Motionformer SSv2).
- :class:`MMActionSampleFrames` (``common.data.mmaction_sampler``, re-exported here): MMAction2 ``SampleFrames``.
- :func:`drop_short_videos`: the list filter the TSM repo and MAS-Net apply before sampling.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Literal, TypeVar

import numpy as np
import torch

from common.data.mmaction_sampler import MMActionSampleFrames
from common.data.reprs import InitRepr
from common.data.sampler_checks import check_clip_index, check_num_frames

__all__ = ["TSNSegmentSampler", "SlowFastClipSampler", "SlowFastSegmentSampler", "MMActionSampleFrames",
           "drop_short_videos"]

log = logging.getLogger(__name__)
Record = TypeVar("Record")

TSM_DENSE_WINDOW = 64  # frames spanned by the TSM/I3D dense window


class TSNSegmentSampler(InitRepr):
    """TSN segment sampling as the TSM repo's ``TSNDataSet`` does it (``dialect="tsm"``, also MAS-Net), or as the
    old MMAction ``RawFramesDataset`` does it (``dialect="mmaction_v0"``, ST-ABN).

    The video is split into ``num_segments`` (T) segments; each segment yields one snippet of ``new_length``
    frames, ``new_step`` apart (the TSM repo always uses step 1). ``L = new_length * new_step``,
    ``tick = (N - L + 1) / T``.

    Train: a random offset inside each segment, ``k * avg + randint(avg)`` with ``avg = (N - L + 1) // T``.
    Validation (``test_rule="val"``, the rule ST-ABN reports and MAS-Net validates with): segment centres
    ``int(tick / 2 + tick * k)``. Test (``test_rule="test"``): the same centres, plus

    - ``twice_sample``: 2 test clips, the centres then the segment starts ``int(tick * k)``;
    - ``dense_sample`` (TSM's I3D window of 64 frames, stride ``64 // T``, indices wrapping modulo N): train starts
      at ``randint(0, N - 64)``; test takes ``dense_test_clips`` (10) starts ``int(linspace(0, N - 64, 10))``;
      val starts at the window centre ``(max(1, N - 63) - 1) // 2`` as MAS-Net does (TSM draws this start at random
      even in validation, which is not a deterministic rule);
    - ``uniform_test_clips=D`` (MAS-Net ``test.py --dense_sample``): D TSN clips whose phase is spread over the first
      segment, clip j taking ``int(tick * k + s_j)`` with ``s = floor(linspace(0, tick - 1, D))``. Unlike TSM's
      dense test this has no 64-frame window.

    Short videos, as the reference code does it:

    - train with ``avg <= 0``: sorted random offsets when ``N > T`` (tsm; reachable only for ``L > 1``) or
      ``N > max(T, L)`` (mmaction_v0), otherwise every segment takes frame 0, so a video with fewer than T frames
      trains as a still image of its first frame;
    - val with ``N <= T + L - 1``: every segment takes frame 0 (ST-ABN's reported protocol; its quirk Q5);
    - test: tsm computes the centres for any N, so short videos repeat frames spread over the video; mmaction_v0
      uses frame 0 for every segment when ``N <= L - 1``;
    - a snippet may start before frame 0 (test rule with ``N < L``: ``tick < 0``; MAS-Net uniform clips whose phase
      is negative): the reference walks it frame by frame and its loader falls back to the first frame for every
      frame number below 1, so such frames read frame 0 (N=2, T=1, L=5, test: ``[0, 0, 1, 1, 1]``);
    - MAS-Net uniform clips cast ``linspace(0, tick - 1, D)`` to int. numpy < 2 truncates toward zero, numpy >= 2
      floors: for ``tick < 1`` the phases differ (N=5, T=8, D=3: numpy 1 ``[0, 0, 0]``, numpy 2 ``[0, -1, -1]``).
      ``linspace_rule="numpy1"`` (default) is what the released MAS-Net numbers were produced with (its README
      asks for Python 3.6, which has no numpy 2); ``"numpy2"`` is what the reference code gives on today's stack;
    - dense window: ``start = 0`` when ``N <= 64``, and indices wrap modulo N.

    Inside a snippet the frame advances by ``new_step`` only while the next frame is reachable: up to the last
    frame for tsm (``if p < num_frames: p += 1``, 1-based), up to the second-to-last for mmaction_v0
    (``if p + new_step < num_frames``); a snippet that runs past the end repeats its last reachable frame.
    """

    def __init__(self, num_segments: int, *, new_length: int = 1, new_step: int = 1,
                 test_rule: Literal["test", "val"] = "test", twice_sample: bool = False,
                 dense_sample: bool = False, dense_test_clips: int = 10, uniform_test_clips: int = 0,
                 dialect: Literal["tsm", "mmaction_v0"] = "tsm",
                 linspace_rule: Literal["numpy1", "numpy2"] = "numpy1") -> None:
        if num_segments < 1 or new_length < 1 or new_step < 1:
            raise ValueError("num_segments, new_length and new_step must be positive")
        if test_rule not in ("test", "val"):
            raise ValueError(f"test_rule must be 'test' or 'val', got {test_rule!r}")
        if dialect not in ("tsm", "mmaction_v0"):
            raise ValueError(f"dialect must be 'tsm' or 'mmaction_v0', got {dialect!r}")
        if linspace_rule not in ("numpy1", "numpy2"):
            raise ValueError(f"linspace_rule must be 'numpy1' or 'numpy2', got {linspace_rule!r}")
        if sum([twice_sample, dense_sample, uniform_test_clips > 0]) > 1:
            # MAS-Net's test.py accepts dense + twice but then reshapes a D-clip tensor as 2*D clips and crashes.
            raise ValueError("twice_sample, dense_sample and uniform_test_clips are mutually exclusive")
        if dense_sample and TSM_DENSE_WINDOW // num_segments < 1:
            raise ValueError(f"dense_sample needs num_segments <= {TSM_DENSE_WINDOW}, got {num_segments}")
        self.num_segments = num_segments
        self.new_length = new_length
        self.new_step = new_step
        self.test_rule = test_rule
        self.twice_sample = twice_sample
        self.dense_sample = dense_sample
        self.dense_test_clips = dense_test_clips
        self.uniform_test_clips = uniform_test_clips
        self.dialect = dialect
        self.linspace_rule = linspace_rule

    @property
    def num_test_clips(self) -> int:
        if self.test_rule == "val":
            return 1
        if self.dense_sample:
            return self.dense_test_clips
        if self.uniform_test_clips:
            return self.uniform_test_clips
        return 2 if self.twice_sample else 1

    @property
    def frames_per_clip(self) -> int:
        return self.num_segments * self.new_length

    @property
    def _snippet_span(self) -> int:
        return self.new_length * self.new_step

    def _expand_snippets(self, offsets: np.ndarray, num_frames: int) -> np.ndarray:
        """Turn one start offset per segment into ``new_length`` frames per segment."""
        steps = np.arange(self.new_length, dtype=np.int64) * self.new_step  # [L]
        last_reachable = num_frames - 1 if self.dialect == "tsm" else num_frames - 2
        reachable = np.maximum((last_reachable - offsets) // self.new_step, 0) * self.new_step  # [T]
        frames = offsets[:, None] + np.minimum(steps[None, :], reachable[:, None])  # [T, L]
        return np.maximum(frames, 0).reshape(-1).astype(np.int64)  # [T*L]; before frame 0: frame 0

    def _dense_window(self, start: int, num_frames: int) -> np.ndarray:
        stride = TSM_DENSE_WINDOW // self.num_segments
        return (np.arange(self.num_segments, dtype=np.int64) * stride + start) % num_frames  # [T]

    def train_indices(self, num_frames: int, rng: np.random.Generator, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        if self.dense_sample:
            last_start = max(1, 1 + num_frames - TSM_DENSE_WINDOW)
            start = 0 if last_start == 1 else int(rng.integers(0, last_start - 1))
            return self._expand_snippets(self._dense_window(start, num_frames), num_frames)
        segments = self.num_segments
        usable = num_frames - self._snippet_span + 1
        avg = usable // segments
        if avg > 0:
            offsets = np.arange(segments, dtype=np.int64) * avg + rng.integers(0, avg, size=segments)
        elif num_frames > (segments if self.dialect == "tsm" else max(segments, self._snippet_span)):
            # TSM's randint(N - L + 1) raises when a snippet is longer than the video; start those at 0 instead.
            offsets = np.sort(rng.integers(0, max(usable, 1), size=segments))
        else:
            offsets = np.zeros(segments, dtype=np.int64)
        return self._expand_snippets(offsets.astype(np.int64), num_frames)

    def _segment_centres(self, tick: float) -> np.ndarray:
        return np.array([int(tick / 2.0 + tick * k) for k in range(self.num_segments)], dtype=np.int64)

    def test_indices(self, num_frames: int, clip_index: int, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        check_clip_index(clip_index, self.num_test_clips)
        segments, span = self.num_segments, self._snippet_span
        tick = (num_frames - span + 1) / float(segments)
        if self.test_rule == "val":
            if self.dense_sample:
                start = (max(1, 1 + num_frames - TSM_DENSE_WINDOW) - 1) // 2
                return self._expand_snippets(self._dense_window(start, num_frames), num_frames)
            if num_frames > segments + span - 1:
                return self._expand_snippets(self._segment_centres(tick), num_frames)
            return self._expand_snippets(np.zeros(segments, dtype=np.int64), num_frames)
        if self.dense_sample:
            last_start = max(1, 1 + num_frames - TSM_DENSE_WINDOW)
            starts = np.linspace(0, last_start - 1, num=self.dense_test_clips).astype(np.int64)
            return self._expand_snippets(self._dense_window(int(starts[clip_index]), num_frames), num_frames)
        if self.dialect == "mmaction_v0" and num_frames <= span - 1:
            return self._expand_snippets(np.zeros(segments, dtype=np.int64), num_frames)
        if self.uniform_test_clips:
            phases = np.linspace(0, tick - 1, num=self.uniform_test_clips)
            phase = (np.trunc if self.linspace_rule == "numpy1" else np.floor)(phases)[clip_index]
            offsets = np.array([int(k * tick + phase) for k in range(segments)], dtype=np.int64)
            return self._expand_snippets(offsets, num_frames)
        if clip_index == 1:  # twice_sample's second clip: the segment starts
            offsets = np.array([int(tick * k) for k in range(segments)], dtype=np.int64)
            return self._expand_snippets(offsets, num_frames)
        return self._expand_snippets(self._segment_centres(tick), num_frames)


class SlowFastClipSampler(InitRepr):
    """PySlowFast's clip sampling: ``num_frames`` frames spread over ``num_frames * sampling_rate`` frames at
    ``target_fps``.

    The clip spans ``clip_size = max(1, sampling_rate * num_frames / target_fps * fps)`` source frames (``fps`` is
    the video's), ``delta = max(N - clip_size, 0)``. Train: ``start ~ U(0, delta)`` (continuous). Test clip i of K:
    ``start = delta * i / K`` (note ``/K``: the last clip does not reach the end), or with ``use_offset``
    (``DATA.USE_OFFSET_SAMPLING``) ``i * floor(delta/(K-1))`` and the centre ``floor(delta/2)`` for K = 1. Indices
    are ``torch.linspace(start, start + clip_size - 1, num_frames)`` (float32, as PySlowFast), clamped to
    ``[0, N-1]`` and truncated to integers.

    The video's fps comes from the caller (the reader's stream rate); when the caller has none (frame folders),
    ``source_fps`` stands in (a flag, or the folder's metadata). With ``target_fps`` set and no fps from either,
    the sampler refuses: sampling without resampling would silently change the clip span. ``target_fps=None``
    samples ``sampling_rate * num_frames`` frames whatever the fps.

    Short videos (``N < clip_size``): ``delta = 0``, every view starts at frame 0 and the indices past the end are
    clamped to the last frame, which is repeated.

    Two rules for where a clip starts:

    - default, frame-exact: the indices above, on the frames of a full decode (PySlowFast's decode-everything
      path, taken when the stream has no duration, e.g. most Matroska/WebM files);
    - ``timestamp_trim=True``, PySlowFast's selective decoding (mp4 and every stream with a duration): it converts
      ``start`` and ``start + clip_size - 1`` to timestamps, keeps the frames between them plus one, re-indexes
      them from 0 and samples ``linspace(0, clip_size - 1)`` clamped to that window. On a constant frame rate that
      starts at frame ``ceil(start)`` instead of ``start + 0``: most views are one frame later (``start`` 23.6,
      8x8: ``[23, 32, ..., 86]`` vs ``[24, 33, ..., 87]``). Use it to reproduce released numbers of mp4 datasets.
      Exact when frame ``j`` has timestamp ``j * d`` and the stream duration is ``N * d`` (what encoders write); a
      view whose ``start`` lies less than ``1/d`` of a frame past an integer starts one frame earlier there.
    """

    def __init__(self, num_frames: int, sampling_rate: int, *, num_test_clips: int = 10,
                 target_fps: float | None = 30.0, use_offset: bool = False, source_fps: float | None = None,
                 timestamp_trim: bool = False) -> None:
        if num_frames < 1 or sampling_rate < 1 or num_test_clips < 1:
            raise ValueError("num_frames, sampling_rate and num_test_clips must be positive")
        if source_fps is not None and source_fps <= 0:
            raise ValueError(f"source_fps must be positive, got {source_fps}")
        self.num_frames = num_frames
        self.sampling_rate = sampling_rate
        self._num_test_clips = num_test_clips
        self.target_fps = target_fps
        self.use_offset = use_offset
        self.source_fps = source_fps
        self.timestamp_trim = timestamp_trim

    @property
    def num_test_clips(self) -> int:
        return self._num_test_clips

    @property
    def frames_per_clip(self) -> int:
        return self.num_frames

    def clip_size(self, fps: float | None) -> float:
        """Source frames one clip spans for a video at ``fps`` (``source_fps`` when None)."""
        if self.target_fps is None:
            return max(1.0, float(self.sampling_rate * self.num_frames))
        fps = fps if fps is not None else self.source_fps
        if fps is None:
            raise ValueError(f"{self!r}: the video's fps is unknown (frame folders carry none), so the clip span "
                             f"at target_fps={self.target_fps} cannot be computed; give source_fps (a flag or the "
                             "folder's metadata), or target_fps=None to sample without resampling")
        # PySlowFast's operation order, so the float (and hence the truncated indices) is bit-identical.
        return max(1.0, self.sampling_rate * self.num_frames / self.target_fps * fps)

    def _indices(self, start: float, clip_size: float, num_frames: int) -> np.ndarray:
        if not self.timestamp_trim:
            index = torch.linspace(start, start + clip_size - 1, self.num_frames)  # float32, as PySlowFast
            return torch.clamp(index, 0, num_frames - 1).long().numpy()
        first = min(math.ceil(start), num_frames - 1)  # the first frame whose timestamp is >= start's
        last = min(math.floor(start + clip_size - 1) + 1, num_frames - 1)  # the window's last frame, plus one
        index = torch.linspace(0, clip_size - 1, self.num_frames)  # float32, over the re-indexed window
        return (torch.clamp(index, 0, last - first).long() + first).numpy()

    def train_indices(self, num_frames: int, rng: np.random.Generator, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        clip_size = self.clip_size(fps)
        delta = max(num_frames - clip_size, 0.0)
        return self._indices(float(rng.uniform(0.0, delta)) if delta > 0 else 0.0, clip_size, num_frames)

    def test_indices(self, num_frames: int, clip_index: int, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        check_clip_index(clip_index, self.num_test_clips)
        clip_size = self.clip_size(fps)
        delta = max(num_frames - clip_size, 0.0)
        clips = self.num_test_clips
        if not self.use_offset:
            start = delta * clip_index / clips
        elif clips == 1:
            start = float(math.floor(delta / 2))
        else:
            start = float(clip_index * math.floor(delta / (clips - 1)))
        return self._indices(start, clip_size, num_frames)


class SlowFastSegmentSampler(InitRepr):
    """PySlowFast's Something-Something sampling (``ssv2.py``, ``get_seq_frames``), used by Motionformer on SSv2.

    ``seg = (N - 1) / num_frames``; segment i spans ``[round(seg * i), round(seg * (i + 1))]`` (numpy's
    round-half-to-even), both ends inclusive. Train draws a uniform integer in that range; test takes
    ``(start + end) // 2``. There is one test clip. Short videos (``N <= num_frames``) repeat frames, because
    neighbouring segments share rounded bounds.
    """

    def __init__(self, num_frames: int) -> None:
        if num_frames < 1:
            raise ValueError("num_frames must be positive")
        self.num_frames = num_frames

    num_test_clips = 1

    @property
    def frames_per_clip(self) -> int:
        return self.num_frames

    def _bounds(self, num_frames: int) -> tuple[np.ndarray, np.ndarray]:
        seg_size = float(num_frames - 1) / self.num_frames
        edges = np.round(seg_size * np.arange(self.num_frames + 1)).astype(np.int64)  # [F+1]
        return edges[:-1], edges[1:]

    def train_indices(self, num_frames: int, rng: np.random.Generator, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        starts, ends = self._bounds(num_frames)
        return rng.integers(starts, ends + 1).astype(np.int64)

    def test_indices(self, num_frames: int, clip_index: int, fps: float | None = None) -> np.ndarray:
        check_num_frames(num_frames)
        check_clip_index(clip_index, self.num_test_clips)
        starts, ends = self._bounds(num_frames)
        return (starts + ends) // 2


def drop_short_videos(records: Sequence[Record], rule: Literal["tsm", "masnet"], *, new_length: int = 1,
                      test_mode: bool = False, remove_missing: bool = False) -> list[Record]:
    """The records the reference's list parser keeps, with a log line counting the dropped ones.

    ``rule="tsm"`` (TSM repo ``TSNDataSet._parse_list``): drop videos whose list states fewer than 3 frames.
    ``rule="masnet"`` (MAS-Net's copy): fewer than ``new_length`` frames (so with ``new_length=1`` nothing), and only
    for ``folder num_frames label`` lists. Both filter train and validation lists, and test lists only with
    ``remove_missing``. Records whose list gives no frame count (``num_frames is None``: video files) are kept.
    """
    if rule not in ("tsm", "masnet"):
        raise ValueError(f"rule must be 'tsm' or 'masnet', got {rule!r}")
    if test_mode and not remove_missing:
        return list(records)
    minimum = 3 if rule == "tsm" else new_length
    kept, dropped = [], []
    for record in records:
        count = getattr(record, "num_frames", None)
        (kept if count is None or count >= minimum else dropped).append(record)
    if dropped:
        first = dropped[0]
        log.warning("dropped %d of %d videos whose list states fewer than %d frames (%s list rule), e.g. %s (%d frames)",
                    len(dropped), len(records), minimum, rule, getattr(first, "source", "") or first.path,
                    first.num_frames)
    return kept
