"""Named training presets: the reference's ``scripts/train.sh`` rows and the configurations its README reports.

``python -m projects.masnet.main --preset ssv1_8f --data-root /data`` sets every default below; explicit flags win.
Keys are argparse destinations of the shared entry points (``recipe.py``). Paths follow the reference's ``ops/datasets_video.py`` layout under
``--data-root`` (lists made by TSM's ``gen_label_*`` scripts: ``folder num_frames label``, sorted ``category.txt``).

Which rows are verbatim and which are inferred (the reference ships commands only for v1_8, v2_16 and k400_8):

=============  =====  =======  =====  ======  ===========================  ===========================================
preset         lr     batch    drop   epochs  schedule                     source
=============  =====  =======  =====  ======  ===========================  ===========================================
ssv1_8f        0.01   32       0.5    70      MAS_lr 30/40/50/60           scripts/train.sh (v1_8), verbatim
ssv1_16f       0.005  16       0.5    70      MAS_lr 30/40/50/60           inferred: v1_8 with v2_16's batch/lr
ssv2_8f        0.01   32       0.8    70      MAS_lr 30/40/50/60           inferred: v1_8 with v2_16's dropout
ssv2_16f       0.005  16       0.8    70      MAS_lr 30/40/50/60           scripts/train.sh (v2_16), verbatim
k400_8f        0.01   32       0.5    100     step_lr 65/75/90, wd 1e-4    scripts/train.sh (k400_8), verbatim
k400_16f       0.005  16       0.5    100     step_lr 65/75/90, wd 1e-4    inferred: k400_8 at 16F (README reports 16F)
=============  =====  =======  =====  ======  ===========================  ===========================================

All: SGD momentum 0.9, weight decay 5e-4 (1e-4 on Kinetics), TSN parameter groups (biases 2x lr without decay, BN
without decay), gradient norm clipped at 20, ImageNet-initialised ResNet-50, validation every epoch. The batch is
the global batch (the reference's DataParallel batch over 4 GPUs) and the reference batch of ``--auto-scale-lr``
(another batch size: add ``--auto-scale-lr`` to keep lr / batch constant). The reference's ``MAS_lr`` schedule is
``--lr-policy step`` with factors 0.1, 0.01, 0.005, 0.001 of the base lr at its four ``--lr-steps``; ``step_lr``
is factors 0.1, 0.01, 0.001.
"""
from __future__ import annotations

from typing import Any

MAS_LR_FACTORS = [0.1, 0.01, 0.005, 0.001]  # the reference's MAS_lr: x0.1, x0.1, x0.5, x0.2 in turn
STEP_LR_FACTORS = [0.1, 0.01, 0.001]  # its step_lr at three steps

_COMMON: dict[str, Any] = dict(variant="masnet_r50", momentum=0.9, grad_clip=20.0, warmup_epochs=0, eval_every=1,
                               list_format="rawframes", reader="frames", crop_size=224, scale_size=256,
                               flip="label_swap")

_SSV1 = dict(_COMMON, video_root="somethingv1/20bn-something-something-v1",
             train_list="somethingv1/train.txt", val_list="somethingv1/valid.txt",
             category_file="somethingv1/category.txt", frame_template="{:05d}.jpg", weight_decay=5e-4, epochs=70,
             lr_policy="step", lr_steps=[30, 40, 50, 60], lr_factors=MAS_LR_FACTORS)
_SSV2 = dict(_SSV1, video_root="somethingv2/20bn-something-something-v2-frames",
             train_list="somethingv2/train.txt", val_list="somethingv2/valid.txt",
             category_file="somethingv2/category.txt", frame_template="{:06d}.jpg")
_K400 = dict(_COMMON, video_root="K400/img", train_list="K400/train_videofolder.txt",
             val_list="K400/val_videofolder.txt", category_file=None, num_classes=400,
             frame_template="img_{:05d}.jpg", weight_decay=1e-4, epochs=100, lr_policy="step",
             lr_steps=[65, 75, 90], lr_factors=STEP_LR_FACTORS, flip="plain")

PRESETS: dict[str, dict[str, Any]] = {
    "ssv1_8f": dict(_SSV1, num_frames=8, lr=0.01, batch_size=32, dropout=0.5),
    "ssv1_16f": dict(_SSV1, num_frames=16, lr=0.005, batch_size=16, dropout=0.5),
    "ssv2_8f": dict(_SSV2, num_frames=8, lr=0.01, batch_size=32, dropout=0.8),
    "ssv2_16f": dict(_SSV2, num_frames=16, lr=0.005, batch_size=16, dropout=0.8),
    "k400_8f": dict(_K400, num_frames=8, lr=0.01, batch_size=32, dropout=0.5),
    "k400_16f": dict(_K400, num_frames=16, lr=0.005, batch_size=16, dropout=0.5),
    # Not from the paper: the small model on common.data.synthetic clips (64x64), for CI and the demo. 8 epochs at
    # lr 0.02 learn the 2-class direction set (ci/test_tiny_recipes_learn.py: 91.7% top-1, 16 s of CPU).
    "tiny_synthetic": dict(_COMMON, variant="masnet_tiny", video_root="", train_list="annotations/rawframes/train.txt",
                           val_list="annotations/rawframes/val.txt", category_file="annotations/category.txt",
                           frame_template="img_{:05d}.jpg", num_frames=8, crop_size=56, scale_size=64, lr=0.02,
                           batch_size=8, dropout=0.0, weight_decay=5e-4, epochs=8, lr_policy="cosine",
                           lr_steps=[], lr_factors=[], count_flops=False),
}

