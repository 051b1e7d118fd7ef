"""Argument checks shared by the frame-index samplers."""
from __future__ import annotations

__all__ = ["check_num_frames", "check_clip_index"]


def check_num_frames(num_frames: int) -> None:
    if num_frames < 1:
        raise ValueError(f"a video needs at least one frame to sample from, got num_frames={num_frames}")


def check_clip_index(clip_index: int, num_test_clips: int) -> None:
    if not 0 <= clip_index < num_test_clips:
        raise IndexError(f"clip_index {clip_index} is outside [0, {num_test_clips})")
