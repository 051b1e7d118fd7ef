"""The explain tools' pictures: colour maps, weight bars (both boundary rules), overlays, the grid and the files."""
from __future__ import annotations

import numpy as np
from PIL import Image

from common.data.video_reader import VideoReader
from common.plots import colormap
from common.tools._explain_render import BAR_HEIGHT, Style, bar_levels, grid, jet, overlay, with_bars, write_explanation


def test_jet_is_an_8_bit_lookup_of_the_classic_colours() -> None:
    np.testing.assert_array_equal(jet(np.array([0.0, 1.0, np.nan])), [[0, 0, 128], [128, 0, 0], [0, 0, 128]])
    assert jet(np.array(0.5)).tolist() == [126, 255, 130]  # 0.5 -> level 127 (truncated, as uint8(255 v))
    assert jet(np.array(0.999)).tolist() == jet(np.array(254 / 255)).tolist() != jet(np.array(1.0)).tolist()
    assert jet(np.zeros((2, 3))).shape == (2, 3, 3)


def test_bar_levels_min_max_and_the_excluded_ends_rule() -> None:
    weights = np.array([0.9, 0.2, 0.4, 0.6, 0.05])
    np.testing.assert_allclose(bar_levels(weights), (weights - 0.05) / 0.85)
    excluded = bar_levels(weights, "exclude")
    inner = np.array([0.43, 0.2, 0.4, 0.6, 0.43])  # the ends count as the mean 0.43 in the min-max
    np.testing.assert_allclose(excluded[1:-1], ((inner - 0.2) / 0.4)[1:-1])
    np.testing.assert_allclose(excluded[[0, -1]], weights[[0, -1]])  # then they are drawn raw
    np.testing.assert_array_equal(bar_levels(np.full(4, 0.3)), np.zeros(4))


def test_overlay_blends_in_the_chosen_colours_and_bars_stack_on_top() -> None:
    frames = np.full((3, 8, 6, 3), 100, np.uint8)
    maps = np.stack([np.zeros((8, 6)), np.full((8, 6), 0.5), np.ones((8, 6))])
    blended = overlay(frames, maps, alpha=0.4, colormap="jet")
    np.testing.assert_array_equal(blended[2, 4, 3], np.round(0.6 * 100 + 0.4 * jet(np.array(1.0))).astype(np.uint8))
    np.testing.assert_array_equal(overlay(frames, maps)[0, 0, 0], np.round(50 + 0.5 * colormap(np.array(0.0))))
    stacked = with_bars(frames, [np.array([0.1, 0.5, 0.3])], Style(colormap="jet"))
    assert stacked.shape == (3, BAR_HEIGHT + 8, 6, 3)
    np.testing.assert_array_equal(stacked[1, 0, 0], jet(np.array(1.0)))  # the largest weight
    np.testing.assert_array_equal(stacked[0, BAR_HEIGHT - 1, 5], jet(np.array(0.0)))
    np.testing.assert_array_equal(stacked[:, BAR_HEIGHT:], frames)


def test_grid_wraps_long_clips_into_bands() -> None:
    rows = {"input": np.zeros((10, 20, 30, 3), np.uint8), "map": np.full((10, 20, 30, 3), 200, np.uint8)}
    picture = grid(rows, "title", columns=4)
    label = picture.shape[1] - 4 * (30 + 4)
    assert label > 0 and picture.shape[0] == 20 + 3 * (16 + 2 * (20 + 4))  # 10 frames in 3 bands of 4
    band = 20 + 16  # first band, first row (input) then the map row
    assert (picture[band:band + 20, label:label + 30] == 0).all()
    assert (picture[band + 24:band + 44, label + 34:label + 64] == 200).all()  # frame 1 of the map row
    assert (picture[20 + 2 * (16 + 48) + 16:, label + 2 * 34:] == 255).all()  # frames 10, 11 do not exist


def test_write_explanation_draws_maps_and_weights(tmp_path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (6, 16, 20, 3), dtype=np.uint8)
    maps = {"where": np.linspace(0, 1, 6 * 16 * 20).reshape(6, 16, 20), "when": np.arange(6.0)}
    written = write_explanation(frames, maps, tmp_path, "t", ["c"], style=Style("jet", 0.4, "include"))
    assert written["frames"] == tmp_path / "where"
    for folder, size in (("input", (20, 16)), ("where", (20, 16)), ("when", (20, BAR_HEIGHT + 16))):
        images = sorted((tmp_path / folder).glob("frame_*.png"))
        assert len(images) == 6 and Image.open(images[0]).size == size, folder
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "input" / "frame_03.png")), frames[3])
    bar = np.asarray(Image.open(tmp_path / "when" / "frame_05.png"))
    np.testing.assert_array_equal(bar[0, 0], jet(np.array(1.0)))
    # The mp4 and the grid: frames and the map side by side, both under the bar (frames upscaled x10 to 160).
    with VideoReader(written["mp4"]) as reader:
        assert reader.num_frames == 6 and reader.read([0]).shape[1:3] == (BAR_HEIGHT + 159, 2 * 200)  # even sides
    assert Image.open(written["grid"]).height == 20 + 16 + 2 * (BAR_HEIGHT + 160 + 4)
    with np.load(tmp_path / "maps.npz") as stored:
        np.testing.assert_array_equal(stored["when"], maps["when"])
