"""The H.264 writer beside the reader: uint8 RGB clips to H.264 files with a fixed keyframe interval.

Used by the synthetic dataset generator, the Grad-CAM overlays and the reader's tests (whose decoded frames are
compared with what was encoded). ``python -m common.tools.reencode`` re-encodes existing videos.
"""
from __future__ import annotations

import os

import av
import numpy as np

__all__ = ["write_h264"]


def write_h264(path: str | os.PathLike, clip: np.ndarray, fps: int, gop: int, crf: int = 18,
               faststart: bool = False) -> None:
    """Encode ``clip`` (uint8 ``[T, H, W, 3]``, even H and W) as H.264 with a keyframe every ``gop`` frames.

    The container follows the file suffix (.mp4, .mkv, ...); ``faststart`` puts the mp4 index before the data.
    """
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.height, stream.width = clip.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast", "threads": "1",
                          "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0"}
        for array in clip:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(array, format="rgb24")))
        container.mux(stream.encode(None))
