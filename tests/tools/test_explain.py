"""common.tools.explain on a tiny model of every project: map shapes, determinism, outputs, and Grad-CAM pointing at
a moving object (through each project's own layers, with a probe score whose class depends on the object)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from common.engine.app import parse_config
from common.engine.recipe import RecipeError
from common.tools import _explain_core as core
from common.tools import explain
from projects import project_names, recipes

CNN_LAYERS = {"masnet": "layer1", "mgma": "layer1", "efficient_slowfast": "s1"}  # shallow: local features


def tiny_checkpoint(project: str, root: Path, out: Path) -> Path:
    """An untrained tiny model of ``project`` saved as main.py does (weights + training configuration)."""
    recipe = recipes()[project]
    cfg, _ = parse_config(recipe, ["--preset", "tiny_synthetic", "--data-root", str(root)], "train")
    torch.manual_seed(0)
    model = recipe.build_model(cfg, log=lambda message: None)
    path = out / f"{project}.pth"
    torch.save({"model": model.state_dict(), "config": vars(cfg)}, path)
    return path


@pytest.fixture(scope="module")
def checkpoints(synthetic_dataset, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("explain_checkpoints")
    return {project: tiny_checkpoint(project, synthetic_dataset.root, out) for project in project_names()}


def load(project: str, checkpoint: Path, root: Path, *extra: str) -> core.LoadedModel:
    argv = ["--project", project, "--checkpoint", str(checkpoint), "--data-root", str(root), "--device", "cpu",
            *extra]
    return core.load_model(recipes()[project], argv, explain.add_explain_args, explain.PROG)


@pytest.mark.parametrize("project", project_names())
def test_maps_have_the_clip_shape_and_are_deterministic(project, checkpoints, synthetic_dataset):
    loaded = load(project, checkpoints[project], synthetic_dataset.root)
    video = synthetic_dataset.video_path(synthetic_dataset.split_videos("val")[0].video_id)
    views = loaded.recipe.test_protocol(loaded.cfg)
    index = explain.view_index(loaded.cfg, views)
    clip = core.read_views(loaded, video, views, [index])[0]
    assert torch.equal(clip, core.read_views(loaded, video, views, [index])[0])  # the view is not random
    method = loaded.recipe.explain_methods[0]
    probabilities, first, _ = explain.explain_clip(loaded, clip, method, None, top_k=2)
    _, second, _ = explain.explain_clip(loaded, clip, method, None, top_k=2)
    assert [target for target, _ in first] == probabilities.topk(2).indices.tolist()
    assert explain.explain_clip(loaded, clip, method, None, class_index=1)[1][0][0] == 1
    for (_, maps), (_, again) in zip(first, second):
        assert maps
        for name, values in maps.items():
            if values.ndim == 1:  # per-frame weights, raw
                assert values.shape == (clip.shape[1],), name
            else:
                assert values.shape == tuple(clip.shape[1:]), name  # [T, H, W] of the clip
                assert values.min() >= 0 and values.max() <= 1, name
            assert np.isfinite(values).all()
            np.testing.assert_array_equal(values, again[name])


def moving_square(frames: int, size: int) -> tuple[torch.Tensor, np.ndarray]:
    """uint8 ``[3, T, S, S]``: a bright square crossing a dark frame left to right, and its mask ``[T, S, S]``."""
    clip = np.full((3, frames, size, size), 40, np.uint8)
    mask = np.zeros((frames, size, size), bool)
    side = size * 3 // 8
    top = (size - side) // 2
    for t in range(frames):
        left = t * (size - side) // (frames - 1)
        clip[:, t, top:top + side, left:left + side] = 230
        mask[t, top:top + side, left:left + side] = True
    return torch.from_numpy(clip), mask


def as_5d(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if tensor.dim() == 5 else tensor.transpose(0, 1)[None]  # 2D backbone [T, C, h, w] -> [1, C, T, h, w]


@pytest.mark.parametrize("project", sorted(CNN_LAYERS))
def test_grad_cam_points_at_the_moving_object(project, checkpoints, synthetic_dataset):
    """Probe: the project's model up to ``layer``, then class 0's score = how much the features look like the
    object (direction ``w`` = features of an all-object clip minus those of an all-background clip, no spatial
    information), class 1's = minus that. Grad-CAM of class 0 must sit on the square in every frame the layer
    sees, that of class 1 must not."""
    loaded = load(project, checkpoints[project], synthetic_dataset.root)
    model, layer = loaded.model, CNN_LAYERS[project]
    frames, size = loaded.cfg.num_frames, loaded.cfg.crop_size
    prepare = loaded.recipe.preprocess(loaded.cfg)
    captured: list[list[torch.Tensor]] = []
    module = dict(model.named_modules())[layer]
    handles = [module.register_forward_hook(lambda m, args, out: captured.append(
        list(out) if isinstance(out, (list, tuple)) else [out]))]

    def features(value: int) -> list[torch.Tensor]:
        with torch.no_grad():
            model(prepare(torch.full((1, 3, frames, size, size), value, dtype=torch.uint8), None, False)[0])
        return [as_5d(a).mean((2, 3, 4))[0] for a in captured[-1]]

    direction = [obj - bg for obj, bg in zip(features(230), features(40))]

    def probe(m, args, out):
        score = sum((as_5d(a) * w[None, :, None, None, None]).mean((2, 3, 4)).sum()
                    for a, w in zip(captured[-1], direction))
        return torch.stack([score, -score])[None]

    handles.append(model.register_forward_hook(probe))
    try:
        clip, mask = moving_square(frames, size)
        inputs = prepare(clip[None], None, False)[0]
        on_object, _, _ = core.grad_cam(model, inputs, layer, 0)
        off_object, _, _ = core.grad_cam(model, inputs, layer, 1)
    finally:
        for handle in handles:
            handle.remove()
    for name, maps in on_object.items():
        contrast = np.array([maps[t][mask[t]].mean() - maps[t][~mask[t]].mean() for t in range(frames)])
        if name.endswith("[0]"):  # the slow pathway sees frames linspace(0, T - 1, T / alpha); its temporal kernel
            # mixes slow frames 2-3 frames (10-15 pixels of motion) apart, which halves its contrast
            seen, least = np.linspace(0, frames - 1, frames // loaded.cfg.alpha).astype(int), 0.2
        else:
            seen, least = np.arange(frames), 0.3
        assert (contrast[seen] > least).all(), (name, contrast.round(2))
        other = off_object[name]
        assert all(other[t][mask[t]].mean() <= other[t][~mask[t]].mean() + 0.05 for t in range(frames)), name


def test_slow_pathway_maps_follow_the_frames_it_sees():
    """A layer of 2 time steps over 8 frames: frames 0-3 take step 0 (frame 0), 4-7 step 1 (frame 7)."""
    steps = torch.stack([torch.zeros(4, 4), torch.ones(4, 4)])  # [2, 4, 4]
    aligned = core.align_to_clip(steps, 8, (8, 8))
    assert aligned.shape == (8, 8, 8)
    assert aligned[:4].max() == 0 and aligned[4:].min() == 1


def test_cli_writes_grid_frames_and_h264(checkpoints, synthetic_dataset, tmp_path):
    video = synthetic_dataset.video_path(synthetic_dataset.split_videos("val")[0].video_id)
    (summary,) = explain.main(["--project", "masnet", "--checkpoint", str(checkpoints["masnet"]), "--data-root",
                               str(synthetic_dataset.root), "--device", "cpu", "--video", str(video), "--top-k", "2",
                               "--out", str(tmp_path)])
    assert len(summary["explained"]) == 2 and (tmp_path / "summary.json").is_file()
    with pytest.raises(SystemExit, match="give --video, --list or --val-list"):
        explain.main(["--project", "masnet", "--checkpoint", str(checkpoints["masnet"]), "--val-list", ""])
    for entry in summary["explained"].values():
        assert Path(entry["grid"]).stat().st_size > 0
        assert len(list(Path(entry["frames"]).glob("frame_*.png"))) == 8
        with av.open(entry["mp4"]) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert sum(1 for _ in container.decode(stream)) == 8


def test_batch_mode_shares_the_list_out_between_processes(checkpoints, synthetic_dataset, tmp_path, monkeypatch):
    """Two processes (RANK / WORLD_SIZE as torchrun sets them) explain videos 0, 2 and 1 of the list, each in the
    folder named by its video id; a list line's first field is the video (annotation lists work)."""
    videos = [str(synthetic_dataset.video_path(video.video_id)) for video in synthetic_dataset.split_videos("val")[:3]]
    (tmp_path / "videos.txt").write_text("".join(f"{video} 8 1\n" for video in videos))
    common = ["--project", "mgma", "--checkpoint", str(checkpoints["mgma"]), "--data-root", str(synthetic_dataset.root),
              "--device", "cpu", "--class", "2", "--list", str(tmp_path / "videos.txt"), "--out", str(tmp_path / "out")]
    monkeypatch.setenv("WORLD_SIZE", "2")
    shares = []
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        shares.append([summary["video"] for summary in explain.main(common)])
    assert shares == [[videos[0], videos[2]], [videos[1]]]
    assert sorted(path.parent.name for path in (tmp_path / "out").glob("*/summary.json")) == sorted(
        Path(video).stem for video in videos)


def test_the_softmax_gradient_differs_from_the_logit_gradient(checkpoints, synthetic_dataset):
    video = synthetic_dataset.video_path(synthetic_dataset.split_videos("val")[0].video_id)
    loaded = load("masnet", checkpoints["masnet"], synthetic_dataset.root)  # logits (MGMA's test head: log-probs)
    clip = core.read_views(loaded, video, loaded.recipe.test_protocol(loaded.cfg), [0])[0]
    inputs = loaded.recipe.preprocess(loaded.cfg)(clip[None], None, False)[0]
    logit, _, _ = core.grad_cam(loaded.model, inputs, "layer3", 2)
    softmax, _, _ = core.grad_cam(loaded.model, inputs, "layer3", 2, softmax_gradient=True)
    assert not np.allclose(logit["layer3"], softmax["layer3"])  # the softmax also pushes the other classes down


def first_clip(loaded: core.LoadedModel, synthetic_dataset) -> torch.Tensor:
    video = synthetic_dataset.video_path(synthetic_dataset.split_videos("val")[0].video_id)
    return core.read_views(loaded, video, loaded.recipe.test_protocol(loaded.cfg), [0])[0]


def test_attention_maps_of_mgma_motionformer_and_st_abn(checkpoints, synthetic_dataset):
    for project, query in (("mgma", []), ("motionformer", ["--query", "1", "0", "1"]), ("st_abn", [])):
        loaded = load(project, checkpoints[project], synthetic_dataset.root, *query)
        clip = first_clip(loaded, synthetic_dataset)
        _, ((_, maps),), _ = explain.explain_clip(loaded, clip, "attention", None)
        assert maps and all(values.shape == (tuple(clip.shape[1:]) if values.ndim == 3 else (clip.shape[1],))
                            for values in maps.values())
        if project == "motionformer":
            assert set(maps) == {"trajectory", "frame_weights"} and maps["frame_weights"].ndim == 1
        elif project == "st_abn":
            assert set(maps) == {"spatial_attention", "temporal_attention"}
            assert maps["temporal_attention"].ndim == 1 and (0 < maps["temporal_attention"]).all()
        else:
            assert all("/" in name for name in maps)  # unit/kind
    with pytest.raises(SystemExit, match="no attention"):
        loaded = load("masnet", checkpoints["masnet"], synthetic_dataset.root)
        explain.explain_clip(loaded, first_clip(loaded, synthetic_dataset), "attention", None)


def test_attention_editing_and_raw_scale(checkpoints, synthetic_dataset, tmp_path):
    """ST-ABN through the generic hooks: --edit-attention re-runs the model with the given temporal weights (the
    maps, the raw arrays and the prediction are the edited pass's), from values or a saved attention.npz;
    --scale raw keeps the sigmoid values of the spatial map."""
    loaded = load("st_abn", checkpoints["st_abn"], synthetic_dataset.root)
    clip = first_clip(loaded, synthetic_dataset)
    frames = clip.shape[1]
    plain, ((_, maps),), raw = explain.explain_clip(loaded, clip, "attention", None, scale="raw")
    weights = [1.0, 0.0] * (frames // 2)
    edited_cfg = load("st_abn", checkpoints["st_abn"], synthetic_dataset.root, "--edit-attention",
                      "temporal_attention=" + ",".join(map(str, weights)))
    edited, ((_, edited_maps),), edited_raw = explain.explain_clip(edited_cfg, clip, "attention", None)
    np.testing.assert_allclose(edited_maps["temporal_attention"], weights)
    np.testing.assert_allclose(edited_raw["temporal_attention"].reshape(-1), weights)
    assert not torch.allclose(plain, edited) and not np.allclose(raw["logits"], edited_raw["logits"])
    np.savez(tmp_path / "attention.npz", **edited_raw)  # a saved attention.npz goes back in
    again = load("st_abn", checkpoints["st_abn"], synthetic_dataset.root, "--edit-attention",
                 f"temporal_attention={tmp_path / 'attention.npz'}")
    assert torch.allclose(explain.explain_clip(again, clip, "attention", None)[0], edited)
    # raw scale: the sigmoid map resized to the clip, not stretched to [0, 1]
    inputs = loaded.recipe.preprocess(loaded.cfg)(clip[None], None, False)[0]
    resized = core.align_to_clip(torch.from_numpy(raw["spatial_attention"]), frames, tuple(clip.shape[-2:]))
    np.testing.assert_allclose(maps["spatial_attention"], resized.numpy(), atol=1e-6)
    assert maps["spatial_attention"].max() < 1 and core.attention(loaded, inputs).maps["spatial_attention"].max() == 1
    for project, edit, error in (("mgma", "x=1", "can replace no attention map"),
                                 ("st_abn", "spatial_attention=1", "can replace temporal_attention, not")):
        bad = load(project, checkpoints[project], synthetic_dataset.root, "--edit-attention", edit)
        with pytest.raises(SystemExit, match=error):
            explain.explain_clip(bad, first_clip(bad, synthetic_dataset), "attention", None)


def test_block_and_per_head_of_a_transformer(checkpoints, synthetic_dataset):
    """Motionformer's hook honours --block (which block) and --per-head (a map per head; their mean is the
    trajectory map)."""
    root = synthetic_dataset.root
    last = load("motionformer", checkpoints["motionformer"], root)
    clip = first_clip(last, synthetic_dataset)
    inputs = last.recipe.preprocess(last.cfg)(clip[None], None, False)[0]
    heads = load("motionformer", checkpoints["motionformer"], root, "--block", "0", "--per-head")
    found = core.attention(heads, inputs)
    count = heads.model.num_heads
    assert list(found.maps) == ["trajectory", *(f"trajectory/head{h}" for h in range(count)), "frame_weights"]
    stacked = np.stack([found.raw[f"trajectory/head{h}"] for h in range(count)])
    np.testing.assert_allclose(stacked.mean(0), found.raw["trajectory"], rtol=1e-5)
    assert not np.allclose(core.attention(last, inputs).raw["trajectory"], found.raw["trajectory"])  # block 0 != -1
    with pytest.raises(RecipeError, match="--block 9"):
        core.attention(load("motionformer", checkpoints["motionformer"], root, "--block", "9"), inputs)
