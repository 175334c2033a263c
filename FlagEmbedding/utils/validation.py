"""Input checks that turn bad user input into a clear error naming the argument and position."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, List, Union

import numpy as np

from FlagEmbedding.utils.errors import InputError, InputTypeError

#: containers a single pair may come in (indexable by position)
_INDEXABLE = (Sequence, np.ndarray)
#: UTF-16 surrogate code points: not characters, so no tokenizer (nor UTF-8) can take a text holding one
_SURROGATE = re.compile("[\ud800-\udfff]")


def _items(value: Any, arg_name: str, expected: str) -> List[Any]:
    """The items of any non-text, non-mapping iterable (list, tuple, numpy array, pandas Series, datasets
    Column, generator, ...) as a list; :class:`~FlagEmbedding.utils.errors.InputTypeError` (a ``TypeError``) naming
    ``arg_name`` for anything else."""
    if value is None or isinstance(value, (str, bytes, bytearray, Mapping)) or not isinstance(value, Iterable):
        got = "None" if value is None else type(value).__name__
        raise InputTypeError(f"`{arg_name}` must be {expected}, got {got}.")
    return list(value)


def check_text(text: Any, arg_name: str, allow_empty: bool = True) -> str:
    """The rule every input text follows (library calls and the HTTP server alike): a ``str`` (else
    :class:`~FlagEmbedding.utils.errors.InputTypeError`, a ``TypeError``) holding no lone surrogate such as
    ``"\\udfff"`` (else :class:`~FlagEmbedding.utils.errors.InputError`, a ``ValueError``: it is not a character,
    and tokenizers cannot take it); with ``allow_empty=False`` also non-empty (else ``InputError``). Messages
    name ``arg_name`` (give the position in it, e.g. ``texts[3]``). Returns a plain ``str``."""
    if not isinstance(text, str):
        raise InputTypeError(f"`{arg_name}` must be a str, got {type(text).__name__} ({text!r:.50}).")
    if not text and not allow_empty:
        raise InputError(f"`{arg_name}` must not be an empty string.")
    surrogate = _SURROGATE.search(text)
    if surrogate is not None:
        raise InputError(f"`{arg_name}` holds a lone surrogate ({surrogate.group()!a}) at character "
                         f"{surrogate.start()}, which is not a character; send valid Unicode text.")
    return str(text)


def check_texts(texts: Any, arg_name: str) -> Union[str, List[str]]:
    """Accept one ``str`` or any sequence of ``str`` (list, tuple, numpy string array, pandas Series, datasets
    Column, other non-text iterables) and return a ``str`` or a list of plain ``str``; each text must pass
    :func:`check_text` (``InputTypeError`` / ``InputError``, a ``TypeError`` / ``ValueError``, naming the bad
    position)."""
    if isinstance(texts, str):
        return check_text(texts, arg_name)
    items = _items(texts, arg_name, "a str or a sequence of str")
    return [check_text(text, f"{arg_name}[{position}]") for position, text in enumerate(items)]


def is_single_pair(sentence_pairs: Any) -> bool:
    """True for one ``(query, passage)`` pair: a non-text sequence whose first element is a str."""
    if isinstance(sentence_pairs, (str, bytes, Mapping)) or not isinstance(sentence_pairs, _INDEXABLE):
        return False
    try:
        return len(sentence_pairs) > 0 and isinstance(sentence_pairs[0], str)
    except (TypeError, KeyError, IndexError):
        return False


def check_pairs(pairs: Any, arg_name: str = "sentence_pairs") -> List[List[str]]:
    """Accept one ``(query, passage)`` pair or any sequence of them (each pair a list, tuple or array of two
    str); :class:`~FlagEmbedding.utils.errors.InputTypeError` / ``InputError`` (a ``TypeError`` / ``ValueError``)
    naming the bad index."""
    expected = "a pair of str or a list of pairs"
    if is_single_pair(pairs):
        pairs = [pairs]
    checked: List[List[str]] = []
    for index, pair in enumerate(_items(pairs, arg_name, expected)):
        if isinstance(pair, (str, bytes, Mapping)) or not isinstance(pair, Iterable):
            raise InputTypeError(f"`{arg_name}[{index}]` must be a (query, passage) pair, got {type(pair).__name__}.")
        pair = list(pair)
        if len(pair) != 2:
            raise InputError(f"`{arg_name}[{index}]` must have exactly 2 elements (query, passage), got {len(pair)}.")
        for side, text in zip(("query", "passage"), pair):
            if not isinstance(text, str):
                raise InputTypeError(f"`{arg_name}[{index}]` {side} must be a str, got {type(text).__name__}.")
        checked.append([check_text(text, f"{arg_name}[{index}][{side}]") for side, text in enumerate(pair)])
    return checked


def check_positive_int(value: Any, arg_name: str) -> int:
    """Raise :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) unless ``value`` is a positive
    int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(f"`{arg_name}` must be a positive integer, got {value!r}.")
    return value


def unescape_newlines(text: Any) -> Any:
    """Turn every literal backslash-n pair into a real newline (non-str values pass through)."""
    return text.replace("\\n", "\n") if isinstance(text, str) else text

