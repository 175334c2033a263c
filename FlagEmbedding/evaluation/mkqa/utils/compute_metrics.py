"""MKQA answer recall: does a retrieved passage contain an answer (DPR / Contriever token matching)?"""
from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any, Dict, List, Mapping, Sequence

#: letters/numbers/marks runs, or any single character that is neither separator nor control
TOKEN_PATTERN = r"([\p{L}\p{N}\p{M}]+)|([^\p{Z}\p{C}])"


@lru_cache(maxsize=1)
def _pattern() -> Any:  # a compiled ``regex`` pattern (the package ships no types)
    import regex

    return regex.compile(TOKEN_PATTERN, flags=regex.IGNORECASE | regex.UNICODE | regex.MULTILINE)


def tokenize(text: str) -> List[str]:
    """NFD-normalise ``text``, split it with :data:`TOKEN_PATTERN` and lower-case the tokens."""
    return [match.group().lower() for match in _pattern().finditer(unicodedata.normalize("NFD", text))]


def has_answer(answers: Sequence[str], text: str) -> bool:
    """True when the token sequence of any answer occurs contiguously in ``text``."""
    tokens = tokenize(text)
    for answer in answers:
        needle = tokenize(answer)
        if not needle:
            continue
        for start in range(len(tokens) - len(needle) + 1):
            if tokens[start:start + len(needle)] == needle:
                return True
    return False


def evaluate_qa_recall(contexts: Mapping[str, Sequence[str]], answers: Mapping[str, Sequence[str]],
                       k_values: Sequence[int]) -> Dict[str, float]:
    """``qa_recall_at_{k}``: share of queries with an answer-bearing passage among their top ``k`` contexts.

    ``contexts[qid]`` lists passage texts best first; queries absent from ``answers`` are ignored.
    """
    queries = [qid for qid in contexts if qid in answers]
    first_hits = []
    for qid in queries:
        first = next((rank for rank, text in enumerate(contexts[qid], start=1) if has_answer(answers[qid], text)), None)
        first_hits.append(first)
    return {
        f"qa_recall_at_{k}": (sum(1 for first in first_hits if first is not None and first <= k) / len(queries)
                              if queries else 0.0)
        for k in k_values
    }
