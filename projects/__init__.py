"""Per-paper projects. A folder ``projects/<p>/`` with a ``recipe.py`` is a project: nothing else to register.

Each project's ``recipe.py`` exposes ``RECIPE`` (a ``common.engine.recipe.Recipe``) and its ``__init__`` exports
``VARIANTS``, ``build_model`` and ``convert_reference_state_dict`` (``../shared/CONVENTIONS.md``); the entry-point
tests, the benchmarks and CI iterate over what :func:`recipes` and :func:`implemented_projects` discover.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common.engine.recipe import Recipe


def project_names() -> list[str]:
    """Folders of this package that hold a ``recipe.py``, sorted."""
    return sorted(path.parent.name for path in Path(__file__).resolve().parent.glob("*/recipe.py"))


def recipes() -> dict[str, "Recipe"]:
    """Every project's ``RECIPE``, by project name."""
    return {name: importlib.import_module(f"{__name__}.{name}.recipe").RECIPE for name in project_names()}


def implemented_projects() -> dict[str, ModuleType]:
    """Every project package that exports a model (``VARIANTS`` and ``build_model``), by project name."""
    found = {}
    for name in project_names():
        module = importlib.import_module(f"{__name__}.{name}")
        if hasattr(module, "VARIANTS") and hasattr(module, "build_model"):
            found[name] = module
    return found
