"""Frame-exact random access to video files with PyAV.

`VideoReader` opens a file once, indexes it (`common.data.frame_index`: the presentation timestamps of the frames a
full decode yields, and the keyframes) and reads any set of frame indices by seeking to a keyframe and decoding
forward. Frame ``i`` is the ``i``-th frame of a plain full decode of the file (display order), so
``reader.read(idx)`` equals ``full_decode[idx]`` exactly, and ``num_frames`` is the number of frames such a decode
yields (the container header may disagree; its value stays in ``header_num_frames``).

Seek rule (per gap, from the keyframe index). Wanted frames are visited in increasing order. For the next wanted
frame ``w`` with preceding keyframe ``k``, the reader seeks to ``k`` only if the decoder has not yet passed ``k`` and
forward decoding would cost more frames than seeking does: ``w - pos > (w - k) + SEEK_COST_FRAMES``, ``pos`` being
the last decoded frame. On long GOPs (keyframe every 250 frames) that almost never holds, so a clip costs one seek
and one forward pass; on short GOPs (16) sparse TSN frames each get their own seek. Frames are converted to RGB only
when kept. Measured on this 2-core VM (340x256, 300 frames, one thread; noisy, read ratios): GOP 16: 8 TSN frames
33 ms vs 292 ms for a decode from the start, an 8x8 clip 25 vs 164 ms; GOP 250: the same as a decode from the start
(one seek, then forward), as it must be.

Every seek is verified: frames before the keyframe's pts are skipped (an open GOP's leading pictures, or a demuxer
that lands early); the first frame at or after it must be the keyframe's index position, and every later frame the
next position. A demuxer that lands late or returns nothing (MPEG-TS) is retried from the previous keyframe, down
to the first; a frame the index does not predict (a timestamp it lacks, a gap, a repeat) makes the file sequential
for this process (reads decode from the start and count frames), with a warning. So a read returns the asked frame
or raises, never another frame.

Indices outside ``[0, num_frames)`` raise `IndexError` naming the file: clamping is the sampler's job, where each
dialect has its own rule. A truncated file is read up to its last complete packet.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType

import av
import numpy as np

from common.data import frame_index
from common.data.frame_index import FrameIndex

__all__ = ["VideoDecodeError", "VideoReader", "SEEK_COST_FRAMES"]

log = logging.getLogger(__name__)

# Cost of one seek (demuxer seek + decoder flush) in decoded frames: about 6 for 340x256 H.264 on this 2-core VM.
SEEK_COST_FRAMES = 6


class VideoDecodeError(RuntimeError):
    """A video file cannot be opened or decoded; the message starts with the file path."""


class _Unpredicted(Exception):
    """Decoding after a seek produced a frame the index does not predict."""


class VideoReader:
    """Random access to the frames of one video file.

    Args:
        path: the video file.
        threads: decoder threads. Keep 1 inside DataLoader workers (the workers are the parallelism).

    Example::

        with VideoReader("clip.mp4") as reader:
            clip = reader.read([0, 8, 16, 24])  # uint8 [4, H, W, 3], RGB
    """

    def __init__(self, path: str | os.PathLike, *, threads: int = 1) -> None:
        self._container = None
        self.path = Path(path)
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if not self.path.is_file():
            raise VideoDecodeError(f"{self.path}: no such file")
        stat = self.path.stat()
        if stat.st_size == 0:
            raise VideoDecodeError(f"{self.path}: empty file (0 bytes)")
        self._threads = threads
        self._key = (str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)
        try:
            self._open_container()
            index = frame_index.cached_index(self._key, self._container, self._stream)
        except VideoDecodeError:
            self.close()
            raise
        except (av.FFmpegError, OSError, ValueError) as error:
            self.close()
            raise VideoDecodeError(f"{self.path}: cannot open as a video ({error})") from error
        self._index: FrameIndex = index
        if index.num_frames == 0:
            self.close()
            raise VideoDecodeError(f"{self.path}: the video stream has no frames")

    def _open_container(self) -> None:
        self._container = av.open(str(self.path), metadata_errors="ignore")
        if not self._container.streams.video:
            raise VideoDecodeError(f"{self.path}: no video stream (streams: {list(self._container.streams)})")
        self._stream = self._container.streams.video[0]
        self._stream.codec_context.thread_count = self._threads
        self._stream.thread_type = "AUTO" if self._threads > 1 else "SLICE"

    # ----------------------------------------------------------------------------------------------- metadata
    @property
    def num_frames(self) -> int:
        """Frames a full decode yields (the header may disagree, see module doc)."""
        return self._index.num_frames

    @property
    def header_num_frames(self) -> int:
        """Frame count written in the container header (0 when the container does not store one)."""
        return int(self._stream.frames or 0)

    @property
    def fps(self) -> float | None:
        """Average frame rate from the container, else derived from the timestamps; None if neither exists."""
        rate = self._stream.average_rate or self._stream.guessed_rate
        if rate:
            return float(rate)
        pts = self._index.frame_pts
        if pts.size > 1 and self._stream.time_base:
            return float((pts.size - 1) / ((pts[-1] - pts[0]) * self._stream.time_base))
        return None

    @property
    def height(self) -> int:
        return int(self._stream.codec_context.height)

    @property
    def width(self) -> int:
        return int(self._stream.codec_context.width)

    @property
    def gop(self) -> int:
        """Median distance between keyframes in frames (``num_frames`` for a single keyframe)."""
        keys = np.unique(self._index.key_positions)
        if keys.size < 2:
            return self.num_frames
        return int(np.median(np.diff(keys)))

    # --------------------------------------------------------------------------------------------- decoding
    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Frames at ``indices`` (0-based, any order, duplicates allowed) as uint8 RGB ``[N, H, W, 3]``."""
        if self._container is None:
            raise VideoDecodeError(f"{self.path}: reader is closed")
        wanted = np.asarray(indices, dtype=np.int64).reshape(-1)  # [N]
        if wanted.size and (wanted.min() < 0 or wanted.max() >= self.num_frames):
            bad = wanted[(wanted < 0) | (wanted >= self.num_frames)]
            raise IndexError(f"{self.path}: frame indices {bad[:8].tolist()} outside [0, {self.num_frames})")
        if wanted.size == 0:
            return np.empty((0, self.height, self.width, 3), dtype=np.uint8)
        unique = np.unique(wanted)
        try:
            decoded = self._decode(unique)
        except (av.FFmpegError, OSError, ValueError) as error:
            raise VideoDecodeError(f"{self.path}: decoding failed ({error})") from error
        missing = [int(i) for i in unique if int(i) not in decoded]
        if missing:
            raise VideoDecodeError(f"{self.path}: frames {missing[:8]} could not be decoded (truncated or corrupt?)")
        shapes = {frame.shape for frame in decoded.values()}
        if len(shapes) > 1:
            raise VideoDecodeError(f"{self.path}: frame size changes inside the video ({sorted(shapes)})")
        return np.stack([decoded[int(i)] for i in wanted])  # [N, H, W, 3]

    def _decode(self, unique: np.ndarray) -> dict[int, np.ndarray]:
        if not self._index.sequential:
            try:
                return self._decode_seeking(unique)
            except _Unpredicted as error:
                log.warning("%s: %s; decoding this file from the start from now on", self.path, error)
                self._index = frame_index.mark_sequential(self._key, self._index)
        return self._decode_sequential(unique)

    def _decode_sequential(self, unique: np.ndarray) -> dict[int, np.ndarray]:
        """Decode from the start, counting frames (the file is reopened: such streams are often unseekable)."""
        self._container.close()
        self._open_container()
        wanted, last, decoded = set(unique.tolist()), int(unique[-1]), {}
        for position, frame in enumerate(self._decoded_frames()):
            if position in wanted:
                decoded[position] = frame.to_ndarray(format="rgb24")
            if position >= last:
                break
        return decoded

    def _decode_seeking(self, unique: np.ndarray) -> dict[int, np.ndarray]:
        keys, crc = self._index.key_positions, self._index.crc
        decoded: dict[int, np.ndarray] = {}
        frames = None
        position = -1  # index position of the last frame the decoder produced
        for target in unique.tolist():
            key_slot = max(int(np.searchsorted(keys, target, side="right")) - 1, 0)
            keyframe = int(keys[key_slot])
            if frames is None or (keyframe > position and target - position > (target - keyframe) + SEEK_COST_FRAMES):
                frames = self._frames_from_keyframe(key_slot, target)
                position = -1
            for position, frame in frames:
                if position == target:
                    if crc is not None and frame_index.frame_crc(frame) != crc[target]:
                        raise _Unpredicted(f"frame {target} decodes to other pixels after a seek than in a full "
                                           "decode (a damaged frame?)")
                    decoded[target] = frame.to_ndarray(format="rgb24")
                if position >= target:
                    break
            else:
                frames = None  # stream ended early; the missing frames are reported by read()
        return decoded

    def _frames_from_keyframe(self, key_slot: int, target: int) -> Iterator[tuple[int, av.VideoFrame]]:
        """Seek to keyframe ``key_slot`` and yield ``(position, frame)`` in display order, verified (module doc).

        If the demuxer lands after the keyframe or yields nothing at or after it, retry from the previous keyframe,
        and finally from the start of the file (``target`` only names the read in error messages)."""
        index = self._index
        for slot in range(key_slot, -2, -1):
            if slot >= 0:
                self._container.seek(int(index.key_seek[slot]), stream=self._stream)
            else:  # last resort: the start of the file, expecting the first keyframe
                self._container.seek(0)
            key_pts, position = int(index.key_pts[max(slot, 0)]), int(index.key_positions[max(slot, 0)])
            landed = False
            for frame in self._decoded_frames():
                pts = frame.pts
                if pts is None:
                    raise _Unpredicted(f"a frame without a timestamp after seeking for frame {target}")
                if not landed and pts < key_pts:
                    continue  # before the keyframe: leading pictures of an open GOP, or an early landing
                if position >= index.num_frames or pts != index.frame_pts[position]:
                    if not landed and pts > index.frame_pts[min(position, index.num_frames - 1)]:
                        break  # landed late: try the previous keyframe
                    raise _Unpredicted(f"after seeking for frame {target} the decoder produced pts {pts} where "
                                       f"the index expects frame {position}")
                landed = True
                yield position, frame
                position += 1
            if landed:
                return  # the stream ended; frames the index still lists are reported missing by read()
        raise _Unpredicted(f"no seek lands at or before frame {target}")

    def _decoded_frames(self) -> Iterator[av.VideoFrame]:
        """Decode from the current demuxer position; a corrupt (truncated) packet ends the stream cleanly."""
        for packet in self._container.demux(self._stream):
            if packet.is_corrupt:
                break
            yield from packet.decode()
        else:
            return
        yield from self._stream.decode(None)  # drain the frames the decoder still holds

    # ------------------------------------------------------------------------------------------- lifecycle
    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"VideoReader({str(self.path)!r}, num_frames={self.num_frames}, fps={self.fps}, "
                f"size={self.width}x{self.height}, gop={self.gop})")
