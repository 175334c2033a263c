"""Module paths of FlagEmbedding 1.4.2 that moved, served from one table.

Subclassing code written for the original imports deep paths such as
``FlagEmbedding.abc.finetune.embedder.AbsModeling``. Each old path below resolves to the module that holds
the same names today: an import hook (installed by ``import FlagEmbedding``) answers the old name with a
thin module object that forwards every attribute to the new module, so classes keep their identity
(``AbsModeling.AbsEmbedderModel is modeling.AbsEmbedderModel``). An old module whose names went to several
modules is listed in :data:`NAME_ALIASES` instead, name by name.

With :mod:`FlagEmbedding.compat` (the old method names, as mixins) this is the whole 1.4.2-only surface.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from typing import Any, Dict, List, Optional, Sequence

_ABC_FT = "FlagEmbedding.abc.finetune"
_FT = "FlagEmbedding.finetune"
_LORA = "FlagEmbedding.finetune.common.lora"
_MODELS = "FlagEmbedding.inference.reranker.decoder_only.models"
_MINICPM = f"{_MODELS}.minicpm_layerwise"
_GEMMA = f"{_MODELS}.gemma2_costwise"

#: old module path -> module that holds its names now
MODULE_ALIASES: Dict[str, str] = {
    "FlagEmbedding.abc.inference.AbsEmbedder": "FlagEmbedding.abc.inference.embedder",
    "FlagEmbedding.abc.inference.AbsReranker": "FlagEmbedding.abc.inference.reranker",
    **{
        f"{_ABC_FT}.{kind}.Abs{part}": f"{_ABC_FT}.{kind}.{module}"
        for kind in ("embedder", "reranker")
        for part, module in (("Arguments", "arguments"), ("Dataset", "dataset"), ("Modeling", "modeling"),
                             ("Runner", "runner"), ("Trainer", "trainer"))
    },
    # LoRA loading and merging of the decoder-only kinds
    f"{_FT}.embedder.decoder_only.base.load_model": _LORA,
    f"{_FT}.embedder.decoder_only.icl.load_model": _LORA,
    f"{_FT}.reranker.decoder_only.base.load_model": _LORA,
    f"{_FT}.reranker.decoder_only.layerwise.load_model": _LORA,
    # the bundled MiniCPM (layer-wise) and Gemma2 (lightweight) reranker architectures
    f"{_FT}.reranker.decoder_only.layerwise.configuration_minicpm_reranker": _MINICPM,
    f"{_FT}.reranker.decoder_only.layerwise.modeling_minicpm_reranker": _MINICPM,
    f"{_MODELS}.configuration_minicpm_reranker": _MINICPM,
    f"{_MODELS}.modeling_minicpm_reranker": _MINICPM,
    f"{_MODELS}.gemma_config": _GEMMA,
    f"{_MODELS}.gemma_model": _GEMMA,
    # modules of earlier releases of this package that left abc (runtimes, storage and search, fine-tuning helpers)
    **{f"FlagEmbedding.abc.{old}": f"FlagEmbedding.{new}" for old, new in (
        ("inference.onnx_backend", "backends.onnx_backend"), ("inference.onednn", "backends.onednn"),
        ("inference.cpu_info", "backends.cpu_info"), ("inference.validation", "utils.validation"),
        ("evaluation.embedding_cache", "retrieval.embedding_cache"), ("evaluation.search", "retrieval.exact_search"),
        ("evaluation.distributed", "retrieval.distributed"), ("evaluation.metrics", "retrieval.metrics"),
        ("evaluation.readers", "retrieval.readers"), ("evaluation.compare", "retrieval.compare"),
        ("evaluation.downloads", "utils.downloads"), ("finetune.embedder.retrieval_eval", "retrieval.training_eval"),
        ("finetune.common.lora", "finetune.common.lora"), ("finetune.common.legacy_flags", "finetune.common.legacy_flags"),
        ("finetune.common.cli", "finetune.common.cli"))},
}

_METRICS = "FlagEmbedding.retrieval.metrics"
_SEARCH = "FlagEmbedding.retrieval.exact_search"
_NAMING = "FlagEmbedding.abc.evaluation.naming"
_SUMMARY = "FlagEmbedding.abc.evaluation.summary"

#: old module path -> {name: module that holds it now}, for old modules whose names went to several modules
NAME_ALIASES: Dict[str, Dict[str, str]] = {
    # the original's evaluation helpers (metrics, faiss search) and this package's earlier additions to them
    "FlagEmbedding.abc.evaluation.utils": {
        **dict.fromkeys(("Qrels", "Run", "evaluate_metrics", "evaluate_mrr", "evaluate_recall_cap"), _METRICS),
        **dict.fromkeys(("display_name", "passage_text"), _NAMING),
        **dict.fromkeys(("EmbeddingIndex", "index", "search"), _SEARCH),
        **dict.fromkeys(("summary_markdown", "write_summary"), _SUMMARY),
    },
}


class AliasModule(types.ModuleType):
    """A module object for an old path: every attribute is read from the module it now lives in."""

    def __init__(self, name: str, target: str) -> None:
        super().__init__(name, f"Moved to :mod:`{target}`; this old path forwards to it.")
        self.__alias_of__ = target

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(importlib.import_module(self.__alias_of__), attr)

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(dir(importlib.import_module(self.__alias_of__))))


class NamesAliasModule(types.ModuleType):
    """A module object for an old path whose names live in several modules (see :data:`NAME_ALIASES`)."""

    def __init__(self, name: str, names: Dict[str, str]) -> None:
        super().__init__(name, "Moved: each name forwards to the module that holds it now.")
        self.__all__ = list(names)
        self.__name_aliases__ = names

    def __getattr__(self, attr: str) -> Any:
        target = self.__name_aliases__.get(attr) if not attr.startswith("__") else None
        if target is None:
            raise AttributeError(f"module {self.__name__!r} has no attribute {attr!r}")
        return getattr(importlib.import_module(target), attr)

    def __dir__(self) -> List[str]:
        return sorted(set(super().__dir__()) | set(self.__name_aliases__))


class AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook answering the old paths of :data:`MODULE_ALIASES` and :data:`NAME_ALIASES`."""

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None,
                  target: Optional[types.ModuleType] = None) -> Optional[importlib.machinery.ModuleSpec]:
        """A spec for an old path, ``None`` for everything else."""
        if fullname not in MODULE_ALIASES and fullname not in NAME_ALIASES:
            return None
        return importlib.machinery.ModuleSpec(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """The forwarding module for ``spec.name``."""
        if spec.name in NAME_ALIASES:
            return NamesAliasModule(spec.name, NAME_ALIASES[spec.name])
        return AliasModule(spec.name, MODULE_ALIASES[spec.name])

    def exec_module(self, module: types.ModuleType) -> None:
        """Import the new modules now, so a broken install fails at the import line."""
        targets = set(NAME_ALIASES[module.__name__].values()) if module.__name__ in NAME_ALIASES \
            else {MODULE_ALIASES[module.__name__]}
        for target in sorted(targets):
            importlib.import_module(target)


_FINDER = AliasFinder()


def install() -> None:
    """Put the hook on ``sys.meta_path`` (once)."""
    if _FINDER not in sys.meta_path:
        sys.meta_path.append(_FINDER)


def register_shadowed(package: str) -> None:
    """Pre-register the old submodules of ``package`` whose name the package also exports as a class.

    The import system binds a freshly imported submodule as an attribute of its package, which would
    replace the exported class (``FlagEmbedding.abc.inference.AbsEmbedder``) with the module. Registering
    the forwarding module when the package is imported makes later imports of the old path find it in
    ``sys.modules`` and leave the package's attribute alone, as in the original.
    """
    for name, target in MODULE_ALIASES.items():
        if name.rpartition(".")[0] == package and name not in sys.modules:
            module = AliasModule(name, target)
            module.__spec__ = importlib.machinery.ModuleSpec(name, _FINDER)
            sys.modules[name] = module
