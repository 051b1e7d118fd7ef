"""Each attention path against a plain, loop-written statement of its math (spec 1.5) on small tensors."""
from __future__ import annotations

import pytest
import torch

from projects.motionformer.model import (DividedAttention, JointAttention, TrajectoryAttention, build_model,
                                         orthoformer_trajectory)

DIM, HEADS, FRAMES, PATCHES = 24, 3, 3, 4
HEAD_DIM = DIM // HEADS
SCALE = HEAD_DIM**-0.5


def _heads(x: torch.Tensor, linear: torch.nn.Linear) -> list[torch.Tensor]:
    """q, k, v as lists over heads of [N, d] for one clip."""
    q, k, v = linear(x).split(DIM, dim=-1)
    return [[t[:, h * HEAD_DIM:(h + 1) * HEAD_DIM] for h in range(HEADS)] for t in (q, k, v)]


def _softmax_attend(q_row: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    weights = torch.softmax(torch.stack([SCALE * (q_row @ key) for key in keys]), dim=0)
    return sum(w * value for w, value in zip(weights, values))


def joint_by_hand(module: JointAttention, x: torch.Tensor) -> torch.Tensor:
    q, k, v = _heads(x, module.qkv)
    rows = [torch.cat([_softmax_attend(q[h][i], k[h], v[h]) for h in range(HEADS)]) for i in range(x.shape[0])]
    return module.proj(torch.stack(rows))


def divided_by_hand(module: DividedAttention, x: torch.Tensor) -> torch.Tensor:
    q, k, v = _heads(x, module.qkv)
    rows = [torch.cat([_softmax_attend(q[h][0], k[h], v[h]) for h in range(HEADS)])]
    for token in range(FRAMES * PATCHES):
        frame, patch = divmod(token, PATCHES)
        if module.axis == "time":
            members = [1 + f * PATCHES + patch for f in range(FRAMES)]
        else:
            members = [1 + frame * PATCHES + p for p in range(PATCHES)]
        group = [0] + members  # CLS key/value joins every group
        rows.append(torch.cat([_softmax_attend(q[h][1 + token], k[h][group], v[h][group]) for h in range(HEADS)]))
    return module.proj(torch.stack(rows))


def trajectory_by_hand(module: TrajectoryAttention, x: torch.Tensor) -> torch.Tensor:
    q, k, v = _heads(x, module.qkv)
    rows = [torch.cat([_softmax_attend(q[h][0], k[h], v[h]) for h in range(HEADS)])]
    for token in range(FRAMES * PATCHES):
        own_frame = token // PATCHES
        # Stage 1: one trajectory token per frame (CLS is never a key), heads concatenated to DIM.
        trajectory = []
        for frame in range(FRAMES):
            keys = slice(1 + frame * PATCHES, 1 + (frame + 1) * PATCHES)
            trajectory.append(torch.cat([_softmax_attend(q[h][1 + token], k[h][keys], v[h][keys])
                                         for h in range(HEADS)]))
        trajectory = torch.stack(trajectory)  # [F, DIM]
        # Stage 2: query from the own-frame token, keys (and paper values) through proj_kv, softmax over frames.
        query = module.proj_q(trajectory[own_frame])
        keys, projected_values = module.proj_kv(trajectory).split(DIM, dim=-1)
        values = trajectory if module.original else projected_values
        out = []
        for h in range(HEADS):
            part = slice(h * HEAD_DIM, (h + 1) * HEAD_DIM)
            out.append(_softmax_attend(query[part], keys[:, part], values[:, part]))
        rows.append(torch.cat(out))
    return module.proj(torch.stack(rows))


@pytest.fixture
def tokens() -> torch.Tensor:
    return torch.randn(2, 1 + FRAMES * PATCHES, DIM, generator=torch.Generator().manual_seed(0))


def _randomise(module: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.normal_(0.0, 0.3)
    return module.eval()


@pytest.mark.parametrize("backend", ["math", "sdpa"])
def test_joint_attention_matches_math(tokens, backend):
    module = _randomise(JointAttention(DIM, HEADS, backend=backend))
    with torch.no_grad():
        for b in range(tokens.shape[0]):
            torch.testing.assert_close(module(tokens, FRAMES)[b], joint_by_hand(module, tokens[b]))


@pytest.mark.parametrize("axis", ["time", "space"])
@pytest.mark.parametrize("backend", ["math", "sdpa"])
def test_divided_attention_matches_math(tokens, axis, backend):
    module = _randomise(DividedAttention(DIM, HEADS, axis, backend=backend))
    with torch.no_grad():
        for b in range(tokens.shape[0]):
            torch.testing.assert_close(module(tokens, FRAMES)[b], divided_by_hand(module, tokens[b]))


@pytest.mark.parametrize("original", [True, False])
@pytest.mark.parametrize("backend", ["math", "sdpa"])
def test_trajectory_attention_matches_math(tokens, original, backend):
    module = _randomise(TrajectoryAttention(DIM, HEADS, original=original, backend=backend))
    with torch.no_grad():
        for b in range(tokens.shape[0]):
            torch.testing.assert_close(module(tokens, FRAMES)[b], trajectory_by_hand(module, tokens[b]))


@pytest.mark.parametrize("original", [True, False])
@pytest.mark.parametrize("backend", ["math", "sdpa"])
@pytest.mark.parametrize("recompute, key_fold", [(True, False), (False, True), (True, True)])
def test_stage2_options_match_math_forward_and_gradients(tokens, original, backend, recompute, key_fold):
    """Stage 2 recomputed in backward and/or with W_k folded into the queries against the plain math layer: the
    output and the gradients of the input and of every weight."""
    plain = _randomise(TrajectoryAttention(DIM, HEADS, original=original, backend="math")).train()
    module = TrajectoryAttention(DIM, HEADS, original=original, backend=backend, stage2_recompute=recompute,
                                 stage2_key_fold=key_fold).train()
    module.load_state_dict(plain.state_dict())
    grad = torch.randn(tokens.shape, generator=torch.Generator().manual_seed(2))
    results = []
    for layer in (plain, module):
        x = tokens.clone().requires_grad_()
        out = layer(x, FRAMES)
        out.backward(grad)
        results.append((out.detach(), x.grad, {name: p.grad for name, p in layer.named_parameters()}))
    (expected, expected_dx, expected_grads), (out, dx, grads) = results
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(dx, expected_dx, atol=1e-4, rtol=1e-4)
    for name, expected_grad in expected_grads.items():
        if key_fold and name == "proj_kv.bias" and original:  # b_k cancels in the softmax: no gradient when folded
            assert grads[name] is None and expected_grad.abs().max() < 1e-5
            continue
        torch.testing.assert_close(grads[name], expected_grad, atol=1e-4, rtol=1e-4, msg=name)


def test_original_and_corrected_paths_differ(tokens):
    module = _randomise(TrajectoryAttention(DIM, HEADS, original=True))
    with torch.no_grad():
        original = module(tokens, FRAMES)
        module.original = False
        assert (module(tokens, FRAMES) - original).abs().max() > 1e-3


def test_orthoformer_matches_landmark_math():
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, FRAMES * PATCHES, HEAD_DIM, generator=generator) for _ in range(3))
    landmarks_count = 5
    out = orthoformer_trajectory(q, k, v, FRAMES, landmarks_count, torch.Generator().manual_seed(7))
    first = torch.randint(FRAMES * PATCHES, (2,), generator=torch.Generator().manual_seed(7))
    quarter = HEAD_DIM**-0.25
    for head in range(2):
        queries, keys = q[0, head] * quarter, k[0, head] * quarter
        unit = queries / queries.norm(dim=-1, keepdim=True)
        chosen = [int(first[head])]
        while len(chosen) < landmarks_count:  # greedy: smallest max |cosine| to the chosen set
            score = [max(abs(float(unit[i] @ unit[j])) for j in chosen) if i not in chosen else float("inf")
                     for i in range(len(unit))]
            chosen.append(min(range(len(score)), key=score.__getitem__))
        landmarks = queries[sorted(chosen)]
        kernel_1 = torch.softmax(queries @ landmarks.T, dim=-1)  # [n, L]
        for frame in range(FRAMES):
            frame_keys = slice(frame * PATCHES, (frame + 1) * PATCHES)
            kernel_2 = torch.softmax(landmarks @ keys[frame_keys].T, dim=-1)  # [L, P]
            expected = kernel_1 @ (kernel_2 @ v[0, head, frame_keys])
            torch.testing.assert_close(out[0, head, :, frame], expected)


def test_orthoformer_model_is_seedable():
    model = build_model("motionformer_tiny", 4, approx="orthoformer", num_landmarks=8).eval()
    clip = torch.randn(1, 3, 8, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        model.patch_embed.proj.weight.normal_(0, 0.05)
        outputs = []
        for seed in (3, 3, 4):
            model.seed_landmarks(seed)
            outputs.append(model(clip))
    torch.testing.assert_close(outputs[0], outputs[1])
    assert (outputs[0] - outputs[2]).abs().max() > 0  # another first landmark gives another approximation


def test_attention_maps_are_distributions():
    model = build_model("motionformer_tiny", 4).eval()
    clip = torch.randn(2, 3, 8, 32, 32)
    maps = model.attention_maps(clip, block_index=0)
    frames, grid_h, grid_w = maps["grid"].tolist()
    n = frames * grid_h * grid_w
    assert maps["spatial"].shape == (2, 3, n, frames, grid_h * grid_w)
    torch.testing.assert_close(maps["spatial"].sum(-1), torch.ones(2, 3, n, frames))
    torch.testing.assert_close(maps["temporal"].sum(-1), torch.ones(2, 3, n))
    assert maps["cls"].shape == (2, 3, n + 1)
