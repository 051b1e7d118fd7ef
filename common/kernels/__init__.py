"""GPU kernels, each beside the plain-PyTorch reference path it is tested against.

``trajectory_attention(q, k, v, num_frames, backend="sdpa", dropout_p=0.0, scale=None)``: stage 1 of Motionformer
trajectory attention, backends ``math`` / ``sdpa`` / ``triton`` (see ``trajectory_attention.py``).
"""
from common.kernels.trajectory_attention import BACKENDS, trajectory_attention, trajectory_attention_math

__all__ = ["BACKENDS", "trajectory_attention", "trajectory_attention_math"]
