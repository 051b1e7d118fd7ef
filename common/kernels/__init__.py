"""GPU kernels, each beside the plain-PyTorch reference path it is tested against.

``trajectory_attention(q, k, v, num_frames, backend="sdpa", dropout_p=0.0, scale=None)``: stage 1 of Motionformer
trajectory attention, backends ``math`` / ``sdpa`` / ``triton`` (see ``trajectory_attention.py``).

``temporal_attention(...)`` / ``temporal_attention_recompute(...)``: stage 2 (attention over frames along each
trajectory), optionally recomputed in the backward and with the key projection folded into the query
(``--stage2-recompute``, ``--stage2-key-fold``; see ``trajectory_stage2.py``).
"""
from common.kernels.trajectory_attention import BACKENDS, trajectory_attention, trajectory_attention_math
from common.kernels.trajectory_stage2 import temporal_attention, temporal_attention_recompute

__all__ = ["BACKENDS", "temporal_attention", "temporal_attention_recompute", "trajectory_attention",
           "trajectory_attention_math"]
