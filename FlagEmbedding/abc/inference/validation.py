"""Input checks that turn bad user input into a clear error naming the argument and position."""
from __future__ import annotations

from typing import Any, List, Union


def check_texts(texts: Any, arg_name: str) -> Union[str, List[str]]:
    """Accept one ``str`` or a list/tuple of ``str``; raise ``TypeError`` naming the bad position."""
    if isinstance(texts, str):
        return texts
    if texts is None:
        raise TypeError(f"`{arg_name}` must be a str or a list of str, got None.")
    if not isinstance(texts, (list, tuple)):
        raise TypeError(f"`{arg_name}` must be a str or a list of str, got {type(texts).__name__}.")
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(
                f"`{arg_name}[{position}]` must be a str, got {type(text).__name__} ({text!r:.50})."
            )
    return list(texts)


def is_single_pair(sentence_pairs: Any) -> bool:
    """True for one ``(query, passage)`` pair: a list/tuple whose first element is a str."""
    return isinstance(sentence_pairs, (list, tuple)) and len(sentence_pairs) > 0 and isinstance(sentence_pairs[0], str)


def check_pairs(pairs: Any, arg_name: str = "sentence_pairs") -> List[List[str]]:
    """Accept one ``(query, passage)`` pair or a list of them; raise naming the bad index."""
    if pairs is None:
        raise TypeError(f"`{arg_name}` must be a pair of str or a list of pairs, got None.")
    if not isinstance(pairs, (list, tuple)):
        raise TypeError(f"`{arg_name}` must be a pair of str or a list of pairs, got {type(pairs).__name__}.")
    if is_single_pair(pairs):
        pairs = [pairs]
    checked: List[List[str]] = []
    for index, pair in enumerate(pairs):
        if not isinstance(pair, (list, tuple)):
            raise TypeError(f"`{arg_name}[{index}]` must be a (query, passage) pair, got {type(pair).__name__}.")
        if len(pair) != 2:
            raise ValueError(f"`{arg_name}[{index}]` must have exactly 2 elements (query, passage), got {len(pair)}.")
        for side, text in zip(("query", "passage"), pair):
            if not isinstance(text, str):
                raise TypeError(f"`{arg_name}[{index}]` {side} must be a str, got {type(text).__name__}.")
        checked.append([pair[0], pair[1]])
    return checked


def check_positive_int(value: Any, arg_name: str) -> int:
    """Raise ``ValueError`` unless ``value`` is a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{arg_name}` must be a positive integer, got {value!r}.")
    return value


def unescape_newlines(text: Any) -> Any:
    """Turn every literal backslash-n pair into a real newline (non-str values pass through)."""
    return text.replace("\\n", "\n") if isinstance(text, str) else text

