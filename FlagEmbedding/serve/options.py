"""Command-line flags derived from the ``FlagAutoModel`` / ``FlagAutoReranker`` constructors and the registry.

Every keyword of ``from_finetuned`` and of each registered class's ``__init__`` (its whole MRO) becomes a flag,
so a new constructor option is served without touching this package. A name only one side takes is ``--NAME``;
a name both sides take is ``--NAME`` (both models) plus ``--embedder_NAME`` / ``--reranker_NAME`` (one model,
wins over ``--NAME``). Unset flags are not forwarded, so class and registry defaults stay in force.
"""
from __future__ import annotations

import argparse
import enum
import json
import typing
from typing import Any, Dict, List

from FlagEmbedding.inference.options import SIDES, Option, constructor_keywords, not_routed, route_kwargs  # noqa: F401
from FlagEmbedding.inference.options import registry_options as _registry_options

#: Options the server sets per request or per batch itself; a flag for them would be overridden silently (the
#: server's entries of :data:`FlagEmbedding.inference.options.NOT_ROUTED`).
SERVER_CONTROLLED = not_routed("server")


def parse_bool(text: str) -> bool:
    """``true/false/yes/no/1/0`` (any case) to bool; anything else is an argparse error."""
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def parse_json(text: str) -> Any:
    """A JSON value (for structured options such as ``examples_for_task``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"expected JSON ({error.msg}), got {text!r}") from None


def registry_options() -> List[Option]:
    """Every constructor option of the registered embedders and rerankers, in a stable order (those the server
    controls left out)."""
    return _registry_options(exclude=SERVER_CONTROLLED)


def _strip_optional(hint: Any) -> Any:
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) is typing.Union and len(args) == 1:
        return args[0]
    return hint


def argparse_kwargs(hint: Any) -> Dict[str, Any]:
    """``add_argument`` keywords for a type hint: bools take an optional true/false, lists take ``nargs='+'``,
    an enum gives ``choices``, structured types take JSON; every default is None (= not forwarded)."""
    hint = _strip_optional(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return dict(type=parse_bool, nargs="?", const=True, metavar="{true,false}")
    if hint in (int, float, str):
        return dict(type=hint)
    if origin is typing.Union:
        enums = [arg for arg in args if isinstance(arg, type) and issubclass(arg, enum.Enum)]
        if enums:
            return dict(type=str, choices=[member.value for member in enums[0]])
        lists = [arg for arg in args if typing.get_origin(arg) in (list, List)]
        if lists:  # e.g. devices (str | int | list) or cutoff_layers (int | list[int]): one or more values
            item = typing.get_args(lists[0])[0]
            return dict(type=item if item in (int, str) else str, nargs="+")
    if origin in (list, List) and typing.get_args(hint) and typing.get_args(hint)[0] in (int, float, str):
        return dict(type=typing.get_args(hint)[0], nargs="+")
    return dict(type=parse_json, metavar="JSON")


def add_model_options(parser: argparse.ArgumentParser, options: List[Option]) -> None:
    """Add the derived flags to ``parser``. An option whose flag parses differently on the two sides (e.g.
    ``model_class`` choices) gets only the prefixed flags."""
    group = parser.add_argument_group(
        "model options", "Constructor options of FlagAutoModel / FlagAutoReranker (unset: class/registry default)."
    )
    for option in options:
        per_side = {side: argparse_kwargs(hint) for side, hint in option.hints.items()}
        first = per_side[option.sides[0]]
        if all(kwargs == first for kwargs in per_side.values()):
            group.add_argument(f"--{option.name}", dest=option.name, default=None,
                               help=f"{option.name} of the {' and '.join(option.sides)}.", **first)
        if len(option.sides) > 1:
            for side, kwargs in per_side.items():
                group.add_argument(f"--{side}_{option.name}", dest=f"{side}_{option.name}", default=None,
                                   help=f"{option.name} of the {side} only (wins over --{option.name}).", **kwargs)


def model_kwargs(namespace: argparse.Namespace, options: List[Option], side: str) -> Dict[str, Any]:
    """The keyword arguments the user set for ``side`` (``--SIDE_NAME`` wins over ``--NAME``): the shared
    mapping :func:`~FlagEmbedding.inference.options.route_kwargs` with unset (``None``) flags left out."""
    return route_kwargs(namespace, side, keywords=[option.name for option in options if side in option.sides],
                        none_is_unset=True, route="server")
