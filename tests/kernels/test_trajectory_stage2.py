"""Stage 2 of trajectory attention: the key fold and the recomputing backward against the plain form, forward and
gradients; the recomputing form keeps only its inputs for backward."""
from __future__ import annotations

import pytest
import torch

from common.kernels.trajectory_stage2 import temporal_attention, temporal_attention_recompute

# (batch, frames, patches per frame, heads, head dim)
SHAPES = [(1, 2, 3, 2, 4), (2, 4, 5, 3, 8)]


def make_inputs(shape, dtype=torch.float64, bias=True, seed=0):
    """Stage-1 output in a heads-first layout ``[B, h, F, n, d]`` (like SDPA's) viewed as ``[B, n, F, h, d]``,
    and the weights, all requiring grad."""
    batch, frames, patches, heads, head_dim = shape
    generator = torch.Generator().manual_seed(seed)
    dim, tokens = heads * head_dim, frames * patches
    stage1 = torch.randn(batch, heads, frames, tokens, head_dim, generator=generator, dtype=dtype)
    weights = [torch.randn(dim, dim, generator=generator, dtype=dtype) * dim**-0.5,
               torch.randn(dim, generator=generator, dtype=dtype) if bias else None,
               torch.randn(2 * dim, dim, generator=generator, dtype=dtype) * dim**-0.5,
               torch.randn(2 * dim, generator=generator, dtype=dtype) if bias else None]
    leaves = [t.requires_grad_() for t in [stage1, *weights] if t is not None]
    return stage1, weights, leaves


def as_trajectories(stage1):
    return stage1.permute(0, 3, 2, 1, 4)  # [B, n, F, h, d]


def outputs_and_grads(function, shape, project_values, key_fold, bias=True, dtype=torch.float64):
    stage1, weights, leaves = make_inputs(shape, dtype, bias)
    out = function(as_trajectories(stage1), *weights, project_values, key_fold)
    out = out[1] if isinstance(out, tuple) else out
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
    grads = torch.autograd.grad(out, leaves, grad, allow_unused=True)
    return out.detach(), [torch.zeros_like(l) if g is None else g for l, g in zip(leaves, grads)]


def loop_reference(y_traj, w_q, b_q, w_kv, b_kv, project_values):
    """Stage 2 written per query and head with explicit projections of every trajectory token."""
    batch, tokens, frames, heads, head_dim = y_traj.shape
    dim, patches = heads * head_dim, tokens // frames
    y = y_traj.reshape(batch, tokens, frames, dim)
    keys = y @ w_kv[:dim].T + b_kv[:dim]
    values = y @ w_kv[dim:].T + b_kv[dim:] if project_values else y
    out = torch.empty(batch, tokens, dim, dtype=y.dtype)
    for s in range(tokens):
        query = y[:, s, s // patches] @ w_q.T + b_q  # own frame
        for h in range(heads):
            part = slice(h * head_dim, (h + 1) * head_dim)
            logits = torch.einsum("bd,bfd->bf", query[:, part], keys[:, s, :, part]) * head_dim**-0.5
            out[:, s, part] = torch.einsum("bf,bfd->bd", logits.softmax(-1), values[:, s, :, part])
    return out


@pytest.mark.parametrize("project_values", [False, True])
def test_plain_form_matches_the_per_query_loop(project_values):
    stage1, weights, _ = make_inputs(SHAPES[1])
    with torch.no_grad():
        _, out = temporal_attention(as_trajectories(stage1), *weights, project_values)
        expected = loop_reference(as_trajectories(stage1), *weights, project_values)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("project_values", [False, True])
@pytest.mark.parametrize("key_fold", [False, True])
@pytest.mark.parametrize("recompute", [False, True])
def test_options_match_the_plain_form(shape, project_values, key_fold, recompute):
    expected_out, expected_grads = outputs_and_grads(temporal_attention, shape, project_values, False)
    function = temporal_attention_recompute if recompute else temporal_attention
    out, grads = outputs_and_grads(function, shape, project_values, key_fold)
    torch.testing.assert_close(out, expected_out)
    for grad, expected in zip(grads, expected_grads):
        # b_k cancels in the softmax: its gradient is zero up to rounding in the plain form, exactly zero folded
        torch.testing.assert_close(grad, expected, atol=1e-10, rtol=1e-7)


def test_key_fold_gives_the_same_weights():
    stage1, weights, _ = make_inputs(SHAPES[1])
    with torch.no_grad():
        plain, _ = temporal_attention(as_trajectories(stage1), *weights, False)
        folded, _ = temporal_attention(as_trajectories(stage1), *weights, False, key_fold=True)
    torch.testing.assert_close(folded, plain)


def test_recompute_without_biases_and_in_float32():
    expected_out, expected_grads = outputs_and_grads(temporal_attention, SHAPES[1], True, False, bias=False,
                                                     dtype=torch.float32)
    out, grads = outputs_and_grads(temporal_attention_recompute, SHAPES[1], True, False, bias=False,
                                   dtype=torch.float32)
    torch.testing.assert_close(out, expected_out)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected)


def test_recompute_under_autocast_recomputes_in_the_autocast_dtype():
    stage1, weights, leaves = make_inputs(SHAPES[1], torch.float32)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = temporal_attention(as_trajectories(stage1), *weights, True)[1]
        recomputed = temporal_attention_recompute(as_trajectories(stage1), *weights, True)
    assert recomputed.dtype == plain.dtype == torch.bfloat16
    torch.testing.assert_close(recomputed, plain)
    grads = torch.autograd.grad(recomputed.float().sum(), leaves)
    expected = torch.autograd.grad(plain.float().sum(), leaves)
    for grad, reference in zip(grads, expected):
        torch.testing.assert_close(grad, reference, atol=2e-2, rtol=2e-2)


def saved_storages(function, shape, key_fold=False):
    """Distinct non-weight storages autograd keeps for backward, and their bytes."""
    stage1, weights, _ = make_inputs(shape, torch.float32)
    parameters = {id(w) for w in weights}
    storages = {}

    def pack(tensor):
        if id(tensor) not in parameters:
            storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        function(as_trajectories(stage1), *weights, False, key_fold)
    return storages, stage1.untyped_storage().data_ptr()


def test_recompute_keeps_only_the_stage1_output():
    kept, stage1_storage = saved_storages(temporal_attention_recompute, SHAPES[1])
    assert list(kept) == [stage1_storage]
    plain, _ = saved_storages(temporal_attention, SHAPES[1])
    folded, _ = saved_storages(temporal_attention, SHAPES[1], key_fold=True)
    assert sum(plain.values()) > 3 * sum(kept.values())
    assert sum(folded.values()) < sum(plain.values())  # no keys k~ to keep
