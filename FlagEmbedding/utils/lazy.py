"""Lazy values: attribute imports for package ``__init__`` modules (keeps ``import FlagEmbedding`` light), and
sequences read from a higher layer on first use (:class:`LazyChoices`)."""
from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Callable, Dict, Iterable, List, Optional


def lazy_getattr(package: str, names: Dict[str, str]) -> Callable[[str], Any]:
    """Return a module ``__getattr__`` that imports ``names[attr]`` (a module path) on first access."""

    def __getattr__(attr: str) -> Any:
        if attr not in names:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}")
        module = importlib.import_module(names[attr])
        return module if module.__name__.endswith("." + attr) and not hasattr(module, attr) else getattr(module, attr)

    return __getattr__


class LazyChoices(Sequence):
    """A sequence of strings computed by ``load()`` on first use: a command line's ``choices`` taken from a registry
    that its module may not import at module level (an ``abc`` argument dataclass naming the concrete model
    classes of :mod:`FlagEmbedding.inference`). argparse reads it only when it parses or prints help."""

    def __init__(self, load: Callable[[], Iterable[str]]):
        self._load = load
        self._items: Optional[List[str]] = None

    def _values(self) -> List[str]:
        if self._items is None:
            self._items = list(self._load())
        return self._items

    def __getitem__(self, index: Any) -> Any:
        return self._values()[index]

    def __len__(self) -> int:
        return len(self._values())

    def __repr__(self) -> str:
        return repr(self._values())
