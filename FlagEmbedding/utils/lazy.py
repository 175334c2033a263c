"""Lazy attribute imports for package ``__init__`` modules (keeps ``import FlagEmbedding`` light)."""
from __future__ import annotations

import importlib
from typing import Any, Callable, Dict


def lazy_getattr(package: str, names: Dict[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports ``names[attr]`` (a module path) on first access."""

    def __getattr__(attr: str) -> Any:
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        module = importlib.import_module(names[attr])
        return module if module.__name__.endswith("." + attr) and not hasattr(module, attr) else getattr(module, attr)

    return __getattr__
