"""Name lookup and the factory base shared by the auto-loaders (:class:`FlagAutoModel`, :class:`FlagAutoReranker`)."""
from __future__ import annotations

import os
from enum import Enum
from typing import List, Sequence, Type, TypeVar, Union

from FlagEmbedding.utils.errors import InputError

E = TypeVar("E", bound=Enum)


class AutoLoader:
    """Base of the auto-loaders: a namespace for ``from_finetuned``; instantiating it raises ``EnvironmentError``."""

    def __init__(self) -> None:
        name = type(self).__name__
        raise EnvironmentError(
            f"{name} is designed to be instantiated using the `{name}.from_finetuned(model_name_or_path)` method."
        )


def registry_name(model_name_or_path: str) -> str:
    """The name looked up in a registry: the path's basename, or its parent's for ``checkpoint-N`` folders."""
    path = model_name_or_path.rstrip("/\\")
    name = os.path.basename(path)
    if name.startswith("checkpoint-"):
        name = os.path.basename(os.path.dirname(path))
    return name


def not_in_registry_message(name: str, kind: str = "model", choices: Sequence[str] = (), flag: str = "") -> str:
    """The error for a name missing from a registry: what to set (``model_class``, or ``flag`` on a command line)
    and its valid values."""
    return (
        f"Model name '{name}' not found in the model mapping. You can pull request to add the {kind}. "
        f"You can also directly specify the corresponding `model_class` to instantiate the model"
        + (f" (on a command line: {flag})" if flag else "") + (f"; valid values: {', '.join(choices)}." if choices
                                                                else ".")
    )


def model_class_choices(enum_class: Type[Enum]) -> List[str]:
    """The ``model_class`` values of a registry enum (also the command line's choices)."""
    return [member.value for member in enum_class]


def parse_model_class(enum_class: Type[E], value: Union[str, E], flag: str) -> E:
    """``value`` as a member of ``enum_class``; a misspelled value is an :class:`InputError` listing the valid
    values and naming the command-line ``flag`` that sets it."""
    try:
        return enum_class(value)
    except ValueError:
        raise InputError(f"model_class {value!r} is not valid (on a command line: {flag}); valid values: "
                         f"{', '.join(model_class_choices(enum_class))}.") from None
