"""Which frames a video file holds, in presentation order, and where decoding may start: the index `VideoReader`
seeks with.

Frame ``i`` of a file is the ``i``-th frame a plain front-to-back decode yields. The index maps it to the frame's
presentation timestamp (``frame_pts[i]``) so that a decoder started anywhere can name the frames it produces. Two
ways to build it, chosen per file:

- **demuxed** (fast, no decoding): the pts of every video packet, sorted. Used for mp4/mov and Matroska/WebM
  (and AVI without frame reordering) when every packet has a timestamp, the timestamps are unique, decoding
  starts on a keyframe and no kept frame shows before it (an open-GOP cut: the decoder drops such leading frames). Packets the demuxer flags as *discard* are left out: an mp4 edit list (what a stream-copied
  cut writes) keeps the frames before the cut point in the file only as references, and a decode drops them. A
  corrupt packet (a truncated file) ends the index, as it ends a decode.
- **decoded** (one full decode, no RGB conversion): the pts of the frames the decoder outputs, in output order,
  and a CRC of each frame's pixels. Used for every other container (MPEG-TS, MPEG-PS, AVI with B-frames, ...) and
  for any packet anomaly, so ``num_frames`` is always what a decode yields, including frames a decoder drops (a
  stream that starts mid-GOP). The reader checks the CRC of every frame it returns from a seek: a damaged frame (the
  partial last packet of a truncated MPEG-TS) decodes differently after a seek than in a full decode.

If the decoded timestamps are missing, repeated or out of order, or the container is MPEG-PS (whose parser
interpolates timestamps and mislabels frames after a seek), the index is *sequential*: reads decode from the start
and count frames. Keyframes are kept with their own pts (the sort key) and a seek target: the pts for mp4 and
Matroska, whose demuxers index keyframes by it, the dts elsewhere (MPEG-TS seeks by dts; its pts lands a GOP late).
Indexes are cached per process, keyed by path, size and modification time.
"""
from __future__ import annotations

import zlib
from collections import OrderedDict
from dataclasses import dataclass

import av
import numpy as np

__all__ = ["FrameIndex", "build_index", "cached_index", "frame_crc", "mark_sequential"]

_INDEX_CACHE_SIZE = 1024  # videos; about 8 bytes per frame each
PTS_SEEK_FORMATS = ("mov", "mp4", "matroska", "webm")  # demuxers whose seek index is keyed by pts
DEMUX_TRUSTED_FORMATS = PTS_SEEK_FORMATS + ("avi",)
SEQUENTIAL_FORMATS = ("mpeg",)  # MPEG-PS: timestamps after a seek are unreliable


@dataclass(frozen=True)
class FrameIndex:
    """Presentation timestamps of the frames a decode yields, and the keyframes decoding may start from."""

    num_frames: int
    frame_pts: np.ndarray  # int64 [num_frames], strictly increasing; empty when sequential
    key_pts: np.ndarray  # int64 [K], pts of keyframe packets (discarded ones included), sorted
    key_seek: np.ndarray  # int64 [K], the timestamp to seek to for each keyframe
    key_positions: np.ndarray  # int64 [K], first frame position at or after each keyframe's pts
    source: str  # "demuxed", "decoded" or "sequential"
    crc: np.ndarray | None = None  # uint32 [num_frames] pixel checksums (decoded indexes only)

    @property
    def sequential(self) -> bool:
        return self.source == "sequential"


def _format_names(container: av.container.InputContainer) -> set[str]:
    return set(container.format.name.split(","))


def _demux(container, stream) -> tuple[list[tuple[int | None, int | None, bool, bool]], bool]:
    """``(pts, dts, is_keyframe, is_discard)`` per video packet in decode order, and whether a corrupt packet
    ended the stream."""
    packets = []
    for packet in container.demux(stream):
        if packet.is_corrupt:  # a truncated file ends in a partial packet; nothing after it is decodable
            return packets, True
        if packet.size == 0:  # the demuxer's end-of-stream flush packet
            continue
        packets.append((packet.pts, packet.dts, packet.is_keyframe, packet.is_discard))
    return packets, False


def _keyframes(packets, frame_pts: np.ndarray, seek_by_pts: bool) -> tuple[np.ndarray, ...]:
    keys = sorted((pts, pts if seek_by_pts or dts is None else min(pts, dts))
                  for pts, dts, key, _ in packets if key and pts is not None)
    key_pts = np.asarray([k for k, _ in keys], dtype=np.int64)
    key_seek = np.asarray([s for _, s in keys], dtype=np.int64)
    return key_pts, key_seek, np.searchsorted(frame_pts, key_pts).astype(np.int64)


def _sequential(num_frames: int) -> FrameIndex:
    empty = np.empty(0, np.int64)
    return FrameIndex(num_frames, empty, empty, empty, empty, "sequential")


def _demuxed_index(packets, seek_by_pts: bool) -> FrameIndex | None:
    """The index from packet timestamps alone, or None when the packets do not determine the decoded frames."""
    if not packets or not packets[0][2] or any(pts is None for pts, *_ in packets):
        return None
    frame_pts = np.asarray([pts for pts, _, _, discard in packets if not discard], dtype=np.int64)
    if frame_pts.size == 0 or np.unique(frame_pts).size != frame_pts.size:
        return None
    if frame_pts.min() < packets[0][0]:  # leading pictures of the first keyframe: a decoder may drop them
        return None
    frame_pts.sort()
    key_pts, key_seek, key_positions = _keyframes(packets, frame_pts, seek_by_pts)
    return FrameIndex(int(frame_pts.size), frame_pts, key_pts, key_seek, key_positions, "demuxed")


def frame_crc(frame: av.VideoFrame) -> int:
    """CRC-32 of a decoded frame's pixels in its native format (row padding excluded)."""
    try:
        array = frame.to_ndarray()
    except (ValueError, NotImplementedError):  # a pixel format PyAV cannot export as is
        array = frame.to_ndarray(format="rgb24")
    return zlib.crc32(np.ascontiguousarray(array).data)


def _decoded_frames(container, stream) -> tuple[list[int | None], list[int]]:
    """Timestamps and pixel CRCs of every frame a front-to-back decode yields, in output order. The file is opened
    again (raw streams cannot seek back), with the reader's decoder threading."""
    pts, crcs = [], []
    with av.open(container.name, metadata_errors="ignore") as again:
        video = again.streams[stream.index]
        video.codec_context.thread_count = stream.codec_context.thread_count
        video.thread_type = stream.thread_type
        for packet in again.demux(video):
            frames = video.decode(None) if packet.is_corrupt else packet.decode()
            for frame in frames:
                pts.append(frame.pts)
                crcs.append(frame_crc(frame))
            if packet.is_corrupt:
                break
    return pts, crcs


def build_index(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> FrameIndex:
    """Index ``stream`` of an open ``container`` (leaves the container at an arbitrary position)."""
    formats = _format_names(container)
    seek_by_pts = bool(formats & set(PTS_SEEK_FORMATS))
    packets, _ = _demux(container, stream)
    if formats & set(DEMUX_TRUSTED_FORMATS):
        in_decode_order = [pts for pts, *_ in packets]
        reorders = "avi" in formats and (None in in_decode_order or in_decode_order != sorted(in_decode_order))
        index = None if reorders else _demuxed_index(packets, seek_by_pts)
        if index is not None:
            return index
    decoded, crcs = _decoded_frames(container, stream)
    if formats & set(SEQUENTIAL_FORMATS) or None in decoded or not decoded:
        return _sequential(len(decoded))
    frame_pts = np.asarray(decoded, dtype=np.int64)
    if np.any(np.diff(frame_pts) <= 0):
        return _sequential(len(decoded))
    key_pts, key_seek, key_positions = _keyframes(packets, frame_pts, seek_by_pts)
    if key_pts.size == 0:
        return _sequential(len(decoded))
    return FrameIndex(int(frame_pts.size), frame_pts, key_pts, key_seek, key_positions, "decoded",
                      np.asarray(crcs, dtype=np.uint32))


_index_cache: OrderedDict[tuple[str, int, int], FrameIndex] = OrderedDict()


def cached_index(key: tuple[str, int, int], container, stream) -> FrameIndex:
    """The cached index of the file named by ``key`` (path, size, mtime), built on the first call."""
    index = _index_cache.get(key)
    if index is None:
        index = build_index(container, stream)
        _index_cache[key] = index
        if len(_index_cache) > _INDEX_CACHE_SIZE:
            _index_cache.popitem(last=False)
    else:
        _index_cache.move_to_end(key)
    return index


def mark_sequential(key: tuple[str, int, int], index: FrameIndex) -> FrameIndex:
    """Record that seeking in this file produced frames its index does not predict: decode it from the start."""
    sequential = _sequential(index.num_frames)
    _index_cache[key] = sequential
    return sequential
