"""Model options, declared once: the constructor signatures of ``FlagAutoModel`` / ``FlagAutoReranker`` and of the
registered classes. Every entry point derives its keyword mapping from them.

Routes and how a constructor keyword ``NAME`` of side ``embedder`` / ``reranker`` is found in each (see
:func:`option_field`):

* the evaluation CLIs (:class:`~FlagEmbedding.abc.evaluation.arguments.AbsEvalModelArgs` and its per-benchmark
  variants), ``hn_mine`` and ``add_reranker_score`` (dataclasses parsed by ``HfArgumentParser``): the field
  ``SIDE_NAME`` (e.g. ``embedder_batch_size``), else ``NAME_for_TASK`` (``query_instruction_format_for_retrieval``
  / ``..._for_rerank``), else ``NAME``; their values are real values (a CLI default is forwarded like a typed one,
  as in FlagEmbedding 1.4.2);
* the server (:mod:`FlagEmbedding.serve.options`): ``--SIDE_NAME`` wins over ``--NAME``; ``None`` is "unset".

:func:`route_kwargs` turns parsed arguments into the constructor keywords of one side; it is the one mapping
:func:`~FlagEmbedding.abc.evaluation.models.load_embedder` / ``load_reranker`` (evaluation and data scripts) and
the server use. A keyword a route must not set is listed, with the reason, in :data:`NOT_ROUTED`.
"""
from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import typing
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from FlagEmbedding.utils.files import read_json_file

logger = logging.getLogger(__name__)

SIDES = ("embedder", "reranker")
#: the ``NAME_for_TASK`` suffix of each side (``query_instruction_format_for_retrieval``)
TASK_SUFFIX = {"embedder": "retrieval", "reranker": "rerank"}
#: the entry points whose model arguments reach the constructors
ROUTES = ("evaluation", "hn_mine", "add_reranker_score", "server")
#: the sides each route loads
ROUTE_SIDES = {"evaluation": SIDES, "hn_mine": SIDES, "add_reranker_score": ("reranker",),
               "server": SIDES}

_CALLER = "the caller chooses it per call (encode / compute_score arguments)"
#: Keywords a route does not set, by name: (the routes, the reason). The one exclusion list.
NOT_ROUTED: Dict[str, Tuple[FrozenSet[str], str]] = {
    "convert_to_numpy": (frozenset(ROUTES), "the evaluation, the data scripts and the server need numpy arrays "
                                            "and ask for them per call"),
    "return_dense": (frozenset(ROUTES), _CALLER),
    "return_sparse": (frozenset(ROUTES), _CALLER),
    "return_colbert_vecs": (frozenset(ROUTES), _CALLER),
    # encode options, not constructor keywords: each call chooses (the index quantizes its float cache itself,
    # --embedding_precision; the server takes embedding_types per request)
    "precision": (frozenset(ROUTES), _CALLER),
    "calibration_embeddings": (frozenset(ROUTES), _CALLER),
    "ranges": (frozenset(ROUTES), _CALLER),
    "normalize": (frozenset({"server"}), "the server sets it per request (the 'normalize' field of /rerank)"),
}

#: Keywords that qualify another: forwarded exactly when the keyword they qualify is (even at their default),
#: otherwise the class keeps its own value. The format of the in-context examples; the runtime details of a
#: non-torch backend (recorded with it, as the corpus-cache fingerprints of such runs always had them).
QUALIFIED_BY = {"examples_instruction_format": "examples_for_task", "quantize": "backend",
                "onnx_cache_dir": "backend"}


def not_routed(route: str) -> FrozenSet[str]:
    """The keywords ``route`` does not set (see :data:`NOT_ROUTED`)."""
    return frozenset(name for name, (routes, _) in NOT_ROUTED.items() if route in routes)


# ---------------------------------------------------------------------- the declaration
def _keyword_parameters(function: Callable[..., Any]) -> Dict[str, inspect.Parameter]:
    return {
        name: param for name, param in inspect.signature(function).parameters.items()
        if name not in ("self", "cls", "model_name_or_path")
        and param.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }


def _keyword_hints(function: Callable[..., Any]) -> Dict[str, Any]:
    """Keyword parameters of ``function`` with their resolved type hints (``Any`` when unresolvable)."""
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # noqa: BLE001 - a hint that cannot be resolved is treated as Any
        hints = {}
    return {name: hints.get(name, Any) for name in _keyword_parameters(function)}


def factory(side: str) -> Callable[..., Any]:
    """``FlagAutoModel.from_finetuned`` or ``FlagAutoReranker.from_finetuned``."""
    if side == "embedder":
        from FlagEmbedding.inference.auto_embedder import FlagAutoModel

        return FlagAutoModel.from_finetuned
    from FlagEmbedding.inference.auto_reranker import FlagAutoReranker

    return FlagAutoReranker.from_finetuned


def registered_classes(side: str) -> List[type]:
    """The classes of the embedder or reranker registry (``*_CLASS_MAPPING``)."""
    if side == "embedder":
        from FlagEmbedding.inference.embedder.model_mapping import EMBEDDER_CLASS_MAPPING

        return list(EMBEDDER_CLASS_MAPPING.values())
    from FlagEmbedding.inference.reranker.model_mapping import RERANKER_CLASS_MAPPING

    return list(RERANKER_CLASS_MAPPING.values())


def constructor_keywords(factory: Callable[..., Any], classes: Iterable[type]) -> Dict[str, Any]:
    """Keywords of ``factory`` and of every ``__init__`` in the MRO of ``classes`` with their type hints (the
    first hint other than ``Any`` wins)."""
    keywords = dict(_keyword_hints(factory))
    for cls in classes:
        for base in cls.__mro__:
            if "__init__" in vars(base) and base is not object:
                for name, hint in _keyword_hints(vars(base)["__init__"]).items():
                    if keywords.get(name, Any) is Any:
                        keywords[name] = hint
    return keywords


def declared_defaults(factory: Optional[Callable[..., Any]], cls: type) -> Dict[str, Any]:
    """The default of every keyword ``factory`` or a constructor of ``cls``'s MRO declares, as the first receiver
    sees it: the factory's default for the keywords it names, else the most derived constructor's."""
    defaults: Dict[str, Any] = {}
    for base in cls.__mro__:
        if "__init__" in vars(base) and base is not object:
            for name, param in _keyword_parameters(vars(base)["__init__"]).items():
                defaults.setdefault(name, param.default)
    if factory is not None:
        defaults.update({name: param.default for name, param in _keyword_parameters(factory).items()})
    return defaults


def side_keywords(side: str) -> Dict[str, Any]:
    """Every constructor keyword of ``side`` (its factory and every registered class), with its type hint."""
    return constructor_keywords(factory(side), registered_classes(side))


@dataclass
class Option:
    """One constructor keyword: its name and its type hint on each side (embedder / reranker) that accepts it."""

    name: str
    hints: Dict[str, Any]

    @property
    def sides(self) -> Tuple[str, ...]:
        """The sides taking this option, embedder first."""
        return tuple(side for side in SIDES if side in self.hints)


def registry_options(exclude: Iterable[str] = ()) -> List[Option]:
    """Every constructor option of the registered embedders and rerankers, in a stable order (without
    ``exclude``)."""
    excluded = set(exclude)
    sides = {side: side_keywords(side) for side in SIDES}
    names = [name for name in dict.fromkeys([*sides["embedder"], *sides["reranker"]]) if name not in excluded]
    return [Option(name, {side: sides[side][name] for side in SIDES if name in sides[side]}) for name in names]


def target_class(side: str, model_name_or_path: str, model_class: Any = None) -> type:
    """The class ``from_finetuned`` builds for these arguments, found without loading anything."""
    if side == "embedder":
        from FlagEmbedding.inference.auto_embedder import FlagAutoModel

        return FlagAutoModel.embedder_class(model_name_or_path, model_class)
    from FlagEmbedding.inference.auto_reranker import FlagAutoReranker

    return FlagAutoReranker.reranker_class(model_name_or_path, model_class)


# ---------------------------------------------------------------------- routes
def option_fields(side: str, name: str, fields: Iterable[str]) -> List[str]:
    """The arguments that set keyword ``name`` of ``side`` among ``fields``, the one that wins first:
    ``SIDE_NAME``, ``NAME_for_TASK``, ``NAME``."""
    available = set(fields)
    return [candidate for candidate in (f"{side}_{name}", f"{name}_for_{TASK_SUFFIX[side]}", name)
            if candidate in available]


def option_field(side: str, name: str, fields: Iterable[str]) -> Optional[str]:
    """The argument that sets keyword ``name`` of ``side`` among ``fields`` (the first of :func:`option_fields`;
    ``None``: no argument sets it)."""
    found = option_fields(side, name, fields)
    return found[0] if found else None


def _read_examples(value: Any) -> Any:
    """``examples_for_task`` given as the path of a JSON file: the file's content."""
    if isinstance(value, str) and os.path.isfile(value):
        return read_json_file(value, "examples_for_task JSON file")
    return value


def _this_rank_devices(value: Any) -> Any:
    from FlagEmbedding.retrieval import distributed

    return distributed.local_device(value)


#: How an argument's value becomes the keyword's value, by (side, keyword): shared by every dataclass route.
ADAPTERS: Dict[Tuple[str, str], Callable[[Any], Any]] = {
    ("embedder", "devices"): _this_rank_devices,  # under torchrun each rank encodes on its own device
    ("embedder", "examples_for_task"): _read_examples,
    ("embedder", "quantize"): lambda value: None if value == "none" else value,
    ("reranker", "quantize"): lambda value: None if value == "none" else value,
}


def _fields(args: Any) -> List[str]:
    """The argument names of ``args``: its fields and attributes set on it (e.g. AIR-Bench's runner copies
    ``model_cache_dir`` to ``cache_dir``)."""
    names = [spec.name for spec in dataclasses.fields(args)] if dataclasses.is_dataclass(args) else []
    return list(dict.fromkeys([*names, *vars(args)]))


def route_kwargs(args: Any, side: str, cls: Optional[type] = None, *, none_is_unset: bool = False,
                 keywords: Optional[Iterable[str]] = None, route: str = "evaluation") -> Dict[str, Any]:
    """The constructor keywords of ``side`` that parsed ``args`` set (for ``from_finetuned``, without
    ``model_name_or_path``): the one mapping from arguments to keywords.

    Each keyword of ``side`` (``keywords``; default: those the factory and ``cls`` declare, or every registered
    class's when ``cls`` is None) takes the value of the argument :func:`option_fields` finds, through
    :data:`ADAPTERS`. Not forwarded: a keyword no argument sets; one :data:`NOT_ROUTED` excludes from ``route``;
    ``None`` when ``none_is_unset`` (the server's unset flags: the next candidate argument is tried); a value equal
    to the default the receiver declares (a default run builds the same object, with the same record and cache
    fingerprint, as without the flag); with ``cls``, a :data:`QUALIFIED_BY` keyword exactly when the keyword it
    qualifies is forwarded.
    A value set (not the argument's default) for an option of another registered class that ``cls`` does not
    take is dropped with a warning.
    """
    receiver = factory(side)
    if keywords is None:
        keywords = list(constructor_keywords(receiver, [cls] if cls is not None else registered_classes(side)))
    defaults = declared_defaults(receiver, cls) if cls is not None else {}
    fields = _fields(args)
    excluded = not_routed(route)
    chosen: Dict[str, Any] = {}
    for name in keywords:
        if name in excluded:
            continue
        candidates = option_fields(side, name, fields)
        values = [getattr(args, field) for field in candidates]
        if none_is_unset:
            values = [value for value in values if value is not None]
        if not values:
            continue
        value = ADAPTERS.get((side, name), _identity)(values[0])
        if name in defaults and _same(value, defaults[name]) and name not in QUALIFIED_BY:
            continue
        chosen[name] = value
    if cls is not None:
        for name in side_keywords(side):
            field = option_field(side, name, fields)
            if name in defaults or name in excluded or field is None:
                continue
            if not _is_field_default(args, field):
                logger.warning("--%s does not apply to %s (it takes no %r); ignored.", field, cls.__name__, name)
    for name, qualified in QUALIFIED_BY.items():
        if cls is not None and name in chosen and qualified not in chosen:
            del chosen[name]
    return chosen


def _identity(value: Any) -> Any:
    return value


def _same(value: Any, default: Any) -> bool:
    """Whether forwarding ``value`` changes nothing against the declared ``default``."""
    if default is inspect.Parameter.empty:
        return False
    if value is None or default is None:
        return value is default
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default)
    if type(value) is not type(default):
        return False
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001 - values that do not compare are different
        return False


def _is_field_default(args: Any, field: str) -> bool:
    """Whether argument ``field`` of ``args`` holds its default (``None`` outside a dataclass)."""
    value = getattr(args, field)
    specs = {spec.name: spec for spec in dataclasses.fields(args)} if dataclasses.is_dataclass(args) else {}
    if field not in specs:
        return value is None
    spec = specs[field]
    default = spec.default_factory() if spec.default_factory is not dataclasses.MISSING else spec.default
    return value == default


# ---------------------------------------------------------------------- derived argument dataclasses
def side_model_args(name: str, side: Union[str, Sequence[str]], base: type, *,
                    rename: Optional[Mapping[str, str]] = None, defaults: Optional[Mapping[str, Any]] = None,
                    module: Optional[str] = None, doc: str = "") -> type:
    """A model-arguments dataclass for one side (or several: a field both use appears once), derived from
    ``base``'s fields (the evaluation's :class:`~FlagEmbedding.abc.evaluation.arguments.AbsEvalModelArgs`):
    ``SIDE_name_or_path`` and every field that sets a keyword of ``side`` (see :func:`option_field`), in ``base``'s
    order, with ``rename`` (field -> new name, which :func:`option_field` still finds, e.g.
    ``embedder_batch_size`` -> ``batch_size``) and new ``defaults`` (by new name); ``base.__post_init__`` runs on
    it. A new constructor option gets its field in ``base`` once and appears here by itself."""
    rename = dict(rename or {})
    defaults = dict(defaults or {})
    hints = typing.get_type_hints(base)
    specs = [spec.name for spec in dataclasses.fields(base)]
    wanted = set()
    for one_side in ([side] if isinstance(side, str) else side):
        wanted.add(f"{one_side}_name_or_path")
        for keyword in side_keywords(one_side):
            wanted.update(option_fields(one_side, keyword, specs))
    required: List[Tuple[str, Any, Any]] = []
    optional: List[Tuple[str, Any, Any]] = []
    for spec in dataclasses.fields(base):
        if spec.name not in wanted:
            continue
        new_name = rename.get(spec.name, spec.name)
        kwargs: Dict[str, Any] = {"metadata": dict(spec.metadata)}
        if new_name in defaults:
            kwargs["default"] = defaults[new_name]
        elif spec.default_factory is not dataclasses.MISSING:
            kwargs["default_factory"] = spec.default_factory
        elif spec.default is not dataclasses.MISSING:
            kwargs["default"] = spec.default
        target = optional if len(kwargs) > 1 else required
        target.append((new_name, hints[spec.name], dataclasses.field(**kwargs)))
    namespace: Dict[str, Any] = {"__doc__": doc, "__module__": module or __name__}
    if hasattr(base, "__post_init__"):
        namespace["__post_init__"] = base.__post_init__
    return dataclasses.make_dataclass(name, required + optional, namespace=namespace)
