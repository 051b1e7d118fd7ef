"""Every trajectory-attention backend against the explicit math: forward, gradients, dropout, low precision, errors.

The ``triton`` backend runs under ``TRITON_INTERPRET=1`` in a subprocess on CPU (the interpreter has to be chosen
before triton is imported, and must not leak into other tests) and in-process on a GPU when there is one.
Running this file as a script performs the triton checks on CPU: ``TRITON_INTERPRET=1 python <this file>``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from common.kernels.trajectory_attention import trajectory_attention

REPO_ROOT = Path(__file__).resolve().parents[2]
# (batch, heads, frames, patches per frame, head dim): P = 9, 20, 44 are not powers of two (196 scaled down);
# P = 44 with n = 88 spans several key and query tiles of the triton kernel (64 x 32), so its online softmax
# rescaling and its backward loops over tiles are exercised.
SHAPES = [(1, 2, 3, 9, 8), (2, 1, 2, 20, 16), (1, 1, 2, 12, 64), (1, 1, 2, 44, 16)]
# Max-abs tolerance relative to the largest reference value, per input dtype.
RELATIVE_TOLERANCE = {torch.float32: 2e-5, torch.float16: 4e-3, torch.bfloat16: 3e-2}


def per_frame_loop(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, num_frames: int) -> torch.Tensor:
    """Stage 1 written as the paper states it: for each frame, a softmax over that frame's keys only."""
    patches = q.shape[2] // num_frames
    outputs = []
    for frame in range(num_frames):
        keys = k[:, :, frame * patches:(frame + 1) * patches]
        values = v[:, :, frame * patches:(frame + 1) * patches]
        weights = (q @ keys.transpose(-2, -1) * q.shape[-1] ** -0.5).softmax(-1)
        outputs.append(weights @ values)
    return torch.stack(outputs, dim=3)


def random_qkv(shape, dtype, device, seed=0):
    batch, heads, frames, patches, head_dim = shape
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(batch, heads, frames * patches, head_dim, generator=generator).to(device=device, dtype=dtype)
            for _ in range(3)]


def assert_close_relative(actual: torch.Tensor, expected: torch.Tensor, tolerance: float, what: str) -> None:
    error = (actual.double().cpu() - expected.double().cpu()).abs().max().item()
    bound = tolerance * max(1.0, expected.abs().max().item())
    assert error <= bound, f"{what}: max-abs error {error:.3e} > {bound:.3e}"


def check_against_reference(backend: str, shape, dtype: torch.dtype, device: str) -> None:
    """Forward and all three gradients of ``backend`` against the float64 reference of the same inputs."""
    frames = shape[2]
    inputs = [t.requires_grad_() for t in random_qkv(shape, dtype, device)]
    exact_inputs = [t.detach().double().cpu().requires_grad_() for t in inputs]
    out = trajectory_attention(*inputs, frames, backend=backend)
    expected = trajectory_attention(*exact_inputs, frames, backend="math")
    assert out.shape == expected.shape == (shape[0], shape[1], shape[2] * shape[3], frames, shape[4])
    assert out.dtype == dtype
    tolerance = RELATIVE_TOLERANCE[dtype]
    assert_close_relative(out, expected, tolerance, f"{backend} {dtype} {shape} output")
    grad_out = torch.randn(expected.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    grads = torch.autograd.grad(out, inputs, grad_out.to(device=device, dtype=dtype))
    expected_grads = torch.autograd.grad(expected, exact_inputs, grad_out)
    for name, grad, expected_grad in zip("qkv", grads, expected_grads):
        assert grad.dtype == dtype
        assert_close_relative(grad, expected_grad, 4 * tolerance, f"{backend} {dtype} {shape} d{name}")


def check_dropout(backend: str, device: str, dropout_p: float = 0.3) -> None:
    """Dropout acts on the per-frame softmax with 1/(1-p) scaling, and gradients flow through the kept entries.

    With one-hot values (v of key j = e_j) the output *is* the dropped attention matrix, which exposes the mask;
    the same seed on ordinary values must then equal the explicit masked math, forward and backward.
    """
    batch, heads, frames, patches, head_dim = 2, 2, 3, 9, 16
    q, k, v = random_qkv((batch, heads, frames, patches, head_dim), torch.float32, device, seed=2)
    one_hot = torch.eye(patches, head_dim, device=device).repeat(frames, 1).expand(batch, heads, -1, -1).contiguous()
    torch.manual_seed(5)
    dropped = trajectory_attention(q, k, one_hot, frames, backend=backend, dropout_p=dropout_p)[..., :patches]
    probs = trajectory_attention(q, k, one_hot, frames, backend="math")[..., :patches]
    keep = dropped != 0
    assert 0.2 < 1 - keep.float().mean().item() < 0.4, "drop rate far from dropout_p"
    assert_close_relative(dropped[keep], probs[keep] / (1 - dropout_p), 1e-5, f"{backend} kept entries")

    inputs = [t.clone().requires_grad_() for t in (q, k, v)]
    torch.manual_seed(5)
    out = trajectory_attention(*inputs, frames, backend=backend, dropout_p=dropout_p)
    exact = [t.detach().double().cpu().requires_grad_() for t in (q, k, v)]
    logits = (exact[0] @ exact[1].transpose(-2, -1)) * head_dim**-0.5
    attn = logits.view(batch, heads, -1, frames, patches).softmax(-1) * keep.cpu() / (1 - dropout_p)
    expected = torch.einsum("bhsfp,bhfpd->bhsfd", attn, exact[2].view(batch, heads, frames, patches, head_dim))
    assert_close_relative(out, expected, 2e-5, f"{backend} dropout output")
    grad_out = torch.randn(expected.shape, dtype=torch.float64)
    grads = torch.autograd.grad(out, inputs, grad_out.to(device=device, dtype=torch.float32))
    for name, grad, expected_grad in zip("qkv", grads, torch.autograd.grad(expected, exact, grad_out)):
        assert_close_relative(grad, expected_grad, 1e-4, f"{backend} dropout d{name}")


def test_reference_is_a_softmax_per_frame():
    q, k, v = random_qkv((2, 3, 4, 5, 8), torch.float64, "cpu")
    torch.testing.assert_close(trajectory_attention(q, k, v, 4, backend="math"), per_frame_loop(q, k, v, 4))


def test_reference_scale_and_half_precision_softmax():
    q, k, v = random_qkv((1, 2, 2, 6, 8), torch.float64, "cpu")
    expected = trajectory_attention(q * 0.5 / 8**-0.5, k, v, 2, backend="math")
    torch.testing.assert_close(trajectory_attention(q, k, v, 2, backend="math", scale=0.5), expected)
    half = trajectory_attention(*(t.half() for t in (q, k, v)), 2, backend="math")
    assert half.dtype == torch.float16 and torch.isfinite(half).all()


@pytest.mark.parametrize("shape", SHAPES)
def test_sdpa_matches_reference(shape):
    check_against_reference("sdpa", shape, torch.float32, "cpu")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_sdpa_low_precision(dtype):
    check_against_reference("sdpa", SHAPES[0], dtype, "cpu")


@pytest.mark.parametrize("backend", ["math", "sdpa"])
def test_dropout_semantics(backend):
    check_dropout(backend, "cpu")


def test_sdpa_never_keeps_the_attention_tensor():
    """SDPA falls back to the explicit math (which saves the (n, F, P) probabilities) unless inputs are 4-D."""
    batch, heads, frames, patches, head_dim = 1, 2, 4, 49, 8
    inputs = [t.requires_grad_() for t in random_qkv((batch, heads, frames, patches, head_dim), torch.float32, "cpu")]
    saved_bytes = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved_bytes.append(tensor.untyped_storage().nbytes())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        trajectory_attention(*inputs, frames, backend="sdpa")
    attention_bytes = batch * heads * (frames * patches) ** 2 * 4
    assert 0 < max(saved_bytes) < attention_bytes / 4, (max(saved_bytes), attention_bytes)


def test_sdpa_scale_argument():
    q, k, v = random_qkv((1, 2, 2, 5, 8), torch.float64, "cpu")
    torch.testing.assert_close(trajectory_attention(q, k, v, 2, backend="sdpa", scale=0.1),
                               trajectory_attention(q, k, v, 2, backend="math", scale=0.1))


def test_bad_inputs_raise_clear_errors():
    q, k, v = random_qkv((1, 2, 3, 4, 8), torch.float32, "cpu")
    with pytest.raises(ValueError, match="num_frames=5"):
        trajectory_attention(q, k, v, 5)
    with pytest.raises(ValueError, match="unknown trajectory-attention backend 'flash'"):
        trajectory_attention(q, k, v, 3, backend="flash")
    with pytest.raises(ValueError, match=r"\[B, heads, n, d\]"):
        trajectory_attention(q[0], k[0], v[0], 3)
    with pytest.raises(ValueError, match="dropout_p"):
        trajectory_attention(q, k, v, 3, dropout_p=1.0)
    with pytest.raises(ValueError, match="share a dtype"):
        trajectory_attention(q, k.double(), v, 3)
    if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET", "0") in ("", "0"):
        with pytest.raises(RuntimeError, match="needs CUDA tensors"):
            trajectory_attention(q, k, v, 3, backend="triton")


def run_triton_checks(device: str) -> None:
    for shape in SHAPES:
        check_against_reference("triton", shape, torch.float32, device)
    for dtype in (torch.float16, torch.bfloat16):
        check_against_reference("triton", SHAPES[1], dtype, device)
    check_dropout("triton", device)
    q, k, v = random_qkv(SHAPES[0], torch.float32, device)
    merged = trajectory_attention(q, k, v, SHAPES[0][2], backend="triton").permute(0, 2, 3, 1, 4)
    assert merged.is_contiguous(), "triton output should be stored heads-last [B, n, F, h, d]"


def test_triton_interpreter_on_cpu():
    env = {**os.environ, "TRITON_INTERPRET": "1", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": "",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, __file__], env=env, cwd=REPO_ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "triton checks passed on cpu" in result.stdout


def test_triton_kernels_compile_for_hopper():
    """Ahead-of-time compilation to an sm_90 cubin (ptxas included): the interpreter skips type checks and
    register / shared-memory limits that only the real compiler enforces, and a GPU is not always at hand.
    Only bfloat16 with dropout (every code path of the kernels) is compiled here, to stay within the CPU budget."""
    dtype = "bf16"
    triton = pytest.importorskip("triton")
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from common.kernels import trajectory_attention_triton as kernels

    if "nvidia" not in triton.backends.backends:
        pytest.skip("this triton build has no NVIDIA backend")
    probe = torch.empty(1, 1, 1, 64, dtype=torch.bfloat16)
    constants = {**kernels._launch_settings(probe), "HAS_DROPOUT": True}
    for kernel in (kernels._forward_kernel, kernels._backward_dkdv_kernel, kernels._backward_dq_kernel):
        signature = {}
        for name in (param.name for param in kernel.params):
            if name in constants:
                signature[name] = "constexpr"
            elif name in ("LSE", "Delta"):
                signature[name] = "*fp32"
            elif name[0].isupper() or name[1:2].isupper():  # Q, K, V, Out, dOut, dQ, dK, dV
                signature[name] = f"*{dtype}"
            else:
                signature[name] = "fp32" if name in ("qk_scale", "sm_scale", "dropout_p") else "i32"
        compiled = triton.compile(ASTSource(kernel, signature, constexprs=constants), target=GPUTarget("cuda", 90, 32))
        assert compiled.asm["cubin"] and compiled.metadata.shared <= 227 * 1024


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_triton_and_sdpa_on_gpu():
    run_triton_checks("cuda")
    for dtype in (torch.float32, torch.float16, torch.bfloat16):
        check_against_reference("sdpa", (2, 3, 4, 49, 64), dtype, "cuda")
        check_against_reference("triton", (2, 3, 4, 49, 64), dtype, "cuda")


if __name__ == "__main__":
    run_triton_checks("cpu")
    print("triton checks passed on cpu")
