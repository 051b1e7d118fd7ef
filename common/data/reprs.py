"""``__repr__`` from the constructor's arguments, so an error message shows a sampler or transform as it was built
(``TSNSegmentSampler(num_segments=8, twice_sample=True)``), not an object address."""
from __future__ import annotations

import inspect
from typing import Any

__all__ = ["InitRepr"]


def _same(value: Any, default: Any) -> bool:
    try:
        return value is default or bool(value == default)
    except (TypeError, ValueError, RuntimeError):  # arrays and tensors compare element-wise
        return False


class InitRepr:
    """Mixin: ``Name(arg=value, ...)`` with every constructor argument, read from the attribute of the same name (or
    with a leading underscore); keyword arguments that still have their default are left out."""

    def __repr__(self) -> str:
        parts = []
        parameters = list(inspect.signature(type(self).__init__).parameters.values())[1:]
        for parameter in parameters:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            name = next((attr for attr in (parameter.name, "_" + parameter.name) if hasattr(self, attr)), None)
            if name is None:
                continue
            value = getattr(self, name)
            if parameter.default is not parameter.empty and _same(value, parameter.default):
                continue
            parts.append(f"{parameter.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"
