"""Training engine shared by every project: flags and presets (``cli``), the train loop (``trainer``), validation
and multi-view testing (``evaluate``), checkpoints (``checkpoint``), LR schedules
(``schedules``), parameter groups (``param_groups``), run logging (``logging``) and model statistics
(``model_info``). Import the submodules directly, e.g. ``from common.engine.trainer import Trainer``."""
