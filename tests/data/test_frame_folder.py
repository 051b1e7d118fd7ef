"""`FrameFolderReader` on real JPEG folders: templates, indexing, and the errors for missing or broken frames."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from common.data.frame_folder import FRAME_TEMPLATES, FrameFolderError, FrameFolderReader, count_frames
from common.data.video_reader import VideoDecodeError


def write_folder(folder, num_frames: int, template: str, start_index: int = 1) -> np.ndarray:
    """Random JPEG frames; returns them as Pillow decodes them (the reference every decoder must match)."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(num_frames)
    decoded = []
    for i in range(num_frames):
        frame = rng.integers(0, 256, size=(24, 40, 3), dtype=np.uint8)
        path = folder / template.format(start_index + i)
        Image.fromarray(frame).save(path, quality=95)
        decoded.append(np.asarray(Image.open(path).convert("RGB")))
    return np.stack(decoded)


@pytest.mark.parametrize("dataset", sorted(FRAME_TEMPLATES))
@pytest.mark.parametrize("decoder", ["torchvision", "pil"])
def test_read_every_template(tmp_path, dataset, decoder):
    template = FRAME_TEMPLATES[dataset]
    reference = write_folder(tmp_path / "clip", 12, template)
    reader = FrameFolderReader(tmp_path / "clip", template=template, decoder=decoder)
    assert reader.num_frames == 12
    indices = [11, 0, 4, 4, 7]
    clip = reader.read(indices)
    assert clip.dtype == np.uint8 and clip.shape == (5, 24, 40, 3)
    assert np.array_equal(clip, reference[indices])  # torchvision decode equals PIL decode pixel for pixel


def test_start_index_and_given_num_frames(tmp_path):
    reference = write_folder(tmp_path / "clip", 6, "{:05d}.jpg", start_index=0)
    reader = FrameFolderReader(tmp_path / "clip", template="{:05d}.jpg", start_index=0, num_frames=6)
    assert reader.frame_path(0).name == "00000.jpg"
    assert np.array_equal(reader.read([0, 5]), reference[[0, 5]])


def test_count_ignores_other_files(tmp_path):
    write_folder(tmp_path / "clip", 5, "img_{:05d}.jpg")
    (tmp_path / "clip" / "flow_x_00001.jpg").write_bytes(b"x")
    (tmp_path / "clip" / "img_00001.png").write_bytes(b"x")
    assert count_frames(tmp_path / "clip", "img_{:05d}.jpg") == 5
    with pytest.raises(ValueError, match="exactly one"):
        count_frames(tmp_path / "clip", "img.jpg")


def test_missing_folder(tmp_path):
    with pytest.raises(FrameFolderError, match="does not exist") as error:
        FrameFolderReader(tmp_path / "nowhere")
    assert str(error.value).startswith(str(tmp_path / "nowhere"))


def test_empty_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FrameFolderError, match="no frames"):
        FrameFolderReader(tmp_path / "empty")


def test_missing_frame_names_the_file(tmp_path):
    write_folder(tmp_path / "clip", 8, "img_{:05d}.jpg")
    (tmp_path / "clip" / "img_00004.jpg").unlink()
    reader = FrameFolderReader(tmp_path / "clip", num_frames=8)  # the list says 8
    assert np.array_equal(reader.read([0, 7]).shape, (2, 24, 40, 3))
    with pytest.raises(FrameFolderError, match="img_00004.jpg.*missing"):
        reader.read([2, 3])


@pytest.mark.parametrize("decoder", ["torchvision", "pil"])
def test_undecodable_frames_name_the_file(tmp_path, decoder):
    write_folder(tmp_path / "clip", 4, "img_{:05d}.jpg")
    (tmp_path / "clip" / "img_00002.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated jpeg")
    (tmp_path / "clip" / "img_00003.jpg").write_bytes(b"")
    reader = FrameFolderReader(tmp_path / "clip", decoder=decoder)
    with pytest.raises(FrameFolderError, match="img_00002.jpg: cannot decode"):
        reader.read([1])
    with pytest.raises(VideoDecodeError, match="img_00003.jpg: empty"):  # one exception type for bad samples
        reader.read([2])


def test_out_of_range_and_grey_frames(tmp_path):
    folder = tmp_path / "grey"
    folder.mkdir()
    Image.fromarray(np.full((10, 12), 77, np.uint8), mode="L").save(folder / "img_00001.jpg")
    reader = FrameFolderReader(folder)
    clip = reader.read([0])
    assert clip.shape == (1, 10, 12, 3) and abs(int(clip.mean()) - 77) <= 1
    with pytest.raises(IndexError, match="grey"):
        reader.read([1])


def test_fps_from_the_folder(tmp_path) -> None:
    write_folder(tmp_path / "clip", 3, "img_{:05d}.jpg")
    reader = FrameFolderReader(tmp_path / "clip")
    assert reader.fps is None and reader.num_frames == 3  # no fps.txt; it is never counted as a frame
    (tmp_path / "clip" / "fps.txt").write_text("29.97\n")
    assert reader.fps == 29.97 and FrameFolderReader(tmp_path / "clip").num_frames == 3
    (tmp_path / "clip" / "fps.txt").write_text("fast")
    with pytest.raises(FrameFolderError, match="not a frame rate"):
        reader.fps
