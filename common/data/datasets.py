"""Clip datasets: one random view per video for training, every (clip, crop) view of every video for testing.

Items are ``{"clip": uint8 [3, T, H, W], "label": int | dict, "video_index": int, "view_index": int}``. In test
mode item ``i`` is view ``i % num_views`` of video ``i // num_views``, with ``view = clip_index * num_crops +
crop_index`` (PySlowFast's order), so a DDP sampler may split views of one video over ranks and the
:class:`~common.engine.multiview.MultiViewTestMeter` puts them back together.

Randomness: item ``index`` of epoch ``e`` draws from ``SeedSequence([seed, e, index])`` (a numpy Generator for the
temporal sampler, a torch Generator for the transforms), so a clip depends neither on the worker that loads it
nor on the number of workers. The epoch comes from the sampler of :func:`common.data.loader.build_loader` (its
items are ``(epoch, index)`` pairs, so persistent workers see it too) or from :meth:`VideoClipDataset.set_epoch`.

Bad samples (:class:`BadSamplePolicy`): a video or frame folder that fails to open or decode raises a
``VideoDecodeError`` naming the file. In training such a sample is replaced by another random one, and the item
carries the failures in ``item["bad_samples"]`` (one string, one line per failed file with its list line and
reason; empty when none), so they reach the main process from every worker; there
:class:`common.engine.bad_samples.BadSampleLedger` logs them and enforces ``max_fail_fraction`` over the whole epoch
and all ranks. ``max_retries`` replacements in a row failing raise :class:`SampleLoadError` at once. In testing the
error names the file and the view
and is raised, or with ``test_failure="report"`` the item comes back as ``{"missing": message, ...}`` and
:func:`collate_views` moves it to ``batch["missing_views"]`` for ``MultiViewTestMeter.report_missing``.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Literal, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from common.data.annotations import VideoRecord
from common.data.frame_folder import FrameFolderReader
from common.data.video_reader import VideoDecodeError, VideoReader

__all__ = ["BadSamplePolicy", "SampleLoadError", "TooManyBadSamplesError", "VideoClipDataset", "collate_views"]

logger = logging.getLogger(__name__)
Transform = Callable[[dict[str, Any], torch.Generator], dict[str, Any]]


class SampleLoadError(RuntimeError):
    """A video could not be turned into a clip; the message names the file (and the view in test mode)."""


class TooManyBadSamplesError(RuntimeError):
    """More samples failed in an epoch than the bad-sample policy allows."""


@dataclass
class BadSamplePolicy:
    """What a dataset does when a sample fails to load.

    Args:
        max_retries: training: replacement samples tried for one item before giving up (``--bad-sample-retries``).
        max_fail_fraction: training: the largest fraction of an epoch's loads that may fail, over all workers and
            ranks (``--max-bad-fraction``); enforced by the trainer's ``BadSampleLedger``, which sets both fields.
        test_failure: testing: ``"raise"`` the error (naming file and view) or ``"report"`` the view as missing.
    """

    max_retries: int = 10
    max_fail_fraction: float = 0.05
    test_failure: Literal["raise", "report"] = "raise"

    def __post_init__(self) -> None:
        if self.test_failure not in ("raise", "report"):
            raise ValueError(f"test_failure must be 'raise' or 'report', got {self.test_failure!r}")


def _rngs(seed: int, epoch: int, index: int) -> tuple[np.random.Generator, torch.Generator]:
    sequence = np.random.SeedSequence([seed, epoch, index])
    numpy_seed, torch_seed = sequence.generate_state(2, dtype=np.uint64).tolist()
    return np.random.default_rng(numpy_seed), torch.Generator().manual_seed(int(torch_seed) % 2 ** 63)


def video_ids(records: Sequence[VideoRecord]) -> list[str]:
    """Ids that name the same videos alike in every run: each path relative to the folder all the records share,
    without extension (``class/abc`` for ``/data/k400/videos/class/abc.mp4`` and for the frame folder
    ``/scratch/frames/class/abc``), so runs on videos and on frames, or under other data roots, ensemble; segments
    of one video (EPIC) add their frame range (``P01/P01_01:120-480``)."""
    stems = [os.path.splitext(os.path.normpath(record.path))[0] for record in records]
    if not stems:
        return []
    root = os.path.commonpath(stems)
    if root in stems:  # one video, or every record is the same video: keep the last path component
        root = os.path.dirname(root)
    ids = [os.path.relpath(stem, root) for stem in stems]
    if len(set(ids)) < len(ids):
        ids = [f"{vid}:{r.start_frame}-{'end' if r.end_frame is None else r.end_frame}"
               for vid, r in zip(ids, records)]
    return ids


class VideoClipDataset(Dataset):
    """Decoded, sampled and transformed clips of ``records``.

    Args:
        records: ``VideoRecord`` list from ``common.data.annotations``.
        sampler: a frame-index sampler from ``common.data.samplers``.
        transform: per-sample transform (train, or test with one crop when ``test_transform_for_crop`` is None).
        mode: ``"train"`` (one random view per video) or ``"test"`` (``num_test_clips * num_crops`` views).
        num_crops: spatial crops per clip in test mode.
        reader: ``"video"`` (PyAV) or ``"frames"`` (JPEG folders named by ``frame_template``).
        frame_start_index: number of the first frame file on disk.
        test_transform_for_crop: ``crop_index -> transform``, e.g. resize then ``TestCrop(size, 3, crop_index)``.
        seed: base seed of the per-item randomness.
        policy: the :class:`BadSamplePolicy`.
    """

    def __init__(self, records: Sequence[VideoRecord], sampler: Any, transform: Transform | None = None, *,
                 mode: Literal["train", "test"] = "train", num_crops: int = 1,
                 reader: Literal["video", "frames"] = "video", frame_template: str = "img_{:05d}.jpg",
                 frame_start_index: int = 1, test_transform_for_crop: Callable[[int], Transform] | None = None,
                 seed: int = 0, policy: BadSamplePolicy | None = None) -> None:
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        if reader not in ("video", "frames"):
            raise ValueError(f"reader must be 'video' or 'frames', got {reader!r}")
        if mode == "test" and num_crops > 1 and test_transform_for_crop is None:
            raise ValueError("num_crops > 1 needs test_transform_for_crop (one transform per crop index)")
        if not records:
            raise ValueError("the dataset has no records")
        self.records = list(records)
        self.sampler, self.transform, self.mode = sampler, transform, mode
        self.num_crops = num_crops if mode == "test" else 1
        self.reader, self.frame_template, self.frame_start_index = reader, frame_template, frame_start_index
        self.crop_transforms = ([test_transform_for_crop(crop) for crop in range(self.num_crops)]
                                if mode == "test" and test_transform_for_crop is not None else None)
        self.seed, self.epoch = seed, 0
        self.policy = policy or BadSamplePolicy()
        self.attempts = self.failures = 0

    @property
    def num_views(self) -> int:
        """Views per video: ``num_test_clips * num_crops`` in test mode, 1 in training."""
        return self.sampler.num_test_clips * self.num_crops if self.mode == "test" else 1

    def __len__(self) -> int:
        return len(self.records) * self.num_views

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def video_ids(self) -> list[str]:
        """One id per video, in video-index order, for ``MultiViewTestMeter.save``: see :func:`video_ids`."""
        return video_ids(self.records)

    def labels(self) -> list[Any]:
        return [record.label for record in self.records]

    def _open(self, record: VideoRecord) -> tuple[Any, int, float | None]:
        """The reader, the number of frames to sample from, and the fps (a folder's from its fps.txt, else None)."""
        if self.reader == "video":
            video = VideoReader(record.path, threads=1)
            end = video.num_frames if record.end_frame is None else min(record.end_frame, video.num_frames)
            return video, end - record.start_frame, video.fps
        # Telling the reader the count avoids listing huge folders (EPIC) for every item.
        known = None if record.num_frames is None else record.start_frame + record.num_frames
        folder = FrameFolderReader(record.path, self.frame_template, self.frame_start_index, num_frames=known)
        return folder, folder.num_frames - record.start_frame, folder.fps

    def _load(self, record: VideoRecord, index_fn: Callable[[int, float | None], np.ndarray]) -> torch.Tensor:
        """uint8 ``[T, 3, H, W]`` frames chosen by ``index_fn(num_frames, fps)``."""
        source, num_frames, fps = self._open(record)
        try:
            if num_frames < 1:
                raise VideoDecodeError(f"{record.path}: no frames in [{record.start_frame}, {record.end_frame})")
            indices = index_fn(num_frames, fps) + record.start_frame
            frames = source.read(indices)  # [T, H, W, 3]
        finally:
            source.close()
        return torch.from_numpy(frames).permute(0, 3, 1, 2)  # [T, 3, H, W]

    def _finish(self, sample: dict[str, Any], transform: Transform | None, generator: torch.Generator,
                video_index: int, view_index: int) -> dict[str, Any]:
        if transform is not None:
            try:
                sample = transform(sample, generator)
            except Exception as error:  # name the file: a worker's traceback alone does not say which video
                path = self.records[video_index].path
                raise SampleLoadError(f"{path}: transform {transform!r} failed on a clip of shape "
                                      f"{tuple(sample['clip'].shape)}: {error}") from error
        clip = sample["clip"]
        if clip.dtype != torch.uint8:
            raise TypeError(f"transforms must keep clips uint8 (normalise on the device), got {clip.dtype}")
        return {**sample, "clip": clip.permute(1, 0, 2, 3).contiguous(),  # [3, T, H, W]
                "video_index": video_index, "view_index": view_index}

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = item if isinstance(item, tuple) else (self.epoch, item)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} outside [0, {len(self)})")
        numpy_rng, generator = _rngs(self.seed, epoch, index)
        if self.mode == "test":
            return self._test_item(index, generator)
        return self._train_item(index, numpy_rng, generator)

    def _train_item(self, index: int, numpy_rng: np.random.Generator, generator: torch.Generator) -> dict[str, Any]:
        tried = []
        video_index = index
        for _ in range(self.policy.max_retries + 1):
            record = self.records[video_index]
            self.attempts += 1
            try:
                clip = self._load(record, lambda n, fps: self.sampler.train_indices(n, numpy_rng, fps=fps))
                item = self._finish({"clip": clip, "label": record.label}, self.transform, generator, video_index, 0)
                return {**item, "bad_samples": "\n".join(tried)}
            except (VideoDecodeError, IndexError, OSError) as error:
                self.failures += 1
                tried.append(f"{record.path} ({record.source}): {error}".replace("\n", " "))
                logger.warning("bad sample %s: %s", record.path, error)
                video_index = int(numpy_rng.integers(0, len(self.records)))
        raise SampleLoadError(f"{len(tried)} samples in a row failed to load (--bad-sample-retries "
                              f"{self.policy.max_retries}):\n  " + "\n  ".join(tried))

    def _test_item(self, index: int, generator: torch.Generator) -> dict[str, Any]:
        video_index, view_index = divmod(index, self.num_views)
        clip_index, crop_index = divmod(view_index, self.num_crops)
        record = self.records[video_index]
        transform = self.crop_transforms[crop_index] if self.crop_transforms is not None else self.transform
        try:
            clip = self._load(record, lambda n, fps: self.sampler.test_indices(n, clip_index, fps=fps))
        except (VideoDecodeError, IndexError, OSError) as error:
            message = (f"{record.path} ({record.source}): video {video_index} view {view_index} "
                       f"(clip {clip_index}, crop {crop_index}) failed: {error}")
            if self.policy.test_failure == "raise":
                raise SampleLoadError(message) from error
            return {"missing": message, "label": record.label, "video_index": video_index, "view_index": view_index}
        return self._finish({"clip": clip, "label": record.label}, transform, generator, video_index, view_index)


def collate_views(items: list[dict[str, Any]]) -> dict[str, Any]:
    """``default_collate`` of the loaded items; views reported missing go to ``batch["missing_views"]`` as
    ``(video_index, view_index, message)`` triples (a batch may then hold no clip at all)."""
    loaded = [item for item in items if "missing" not in item]
    missing = [(item["video_index"], item["view_index"], item["missing"]) for item in items if "missing" in item]
    batch = default_collate(loaded) if loaded else {}
    batch["missing_views"] = missing
    return batch
