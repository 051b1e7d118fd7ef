"""Per-paper projects. Each subpackage that exports ``VARIANTS`` registers itself for benchmarks and CI.

A project's ``__init__`` exports ``VARIANTS`` (its ``common.variants`` table, read by the cross-project layer),
``build_model`` and ``convert_reference_state_dict`` (see ``../shared/CONVENTIONS.md``).
"""
from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

PROJECT_NAMES = ("mgma", "st_abn", "masnet", "efficient_slowfast", "motionformer")


def implemented_projects() -> dict[str, ModuleType]:
    """Import every project package that exports a model registry, in ``PROJECT_NAMES`` order."""
    found = {}
    present = {m.name for m in pkgutil.iter_modules(__path__)}
    for name in PROJECT_NAMES:
        if name not in present:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "VARIANTS") and hasattr(module, "build_model"):
            found[name] = module
    return found
