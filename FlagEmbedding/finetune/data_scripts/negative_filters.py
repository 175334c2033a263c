"""False-negative filters and sampling of hard-negative mining (pure functions over scores).

A mined candidate that scores as high as a query's positives is often an unlabelled positive (a *false
negative*); training against it teaches the model to push a right answer away. :class:`NegativeFilters` holds
the three checks of ``scripts/hn_mine.py`` (each off unless set):

* ``max_score S``: drop a candidate whose score is above ``S`` (a ceiling on the scale of the scorer);
* ``absolute_margin M``: keep it only if ``score < p - M``;
* ``relative_margin R``: keep it only if ``score < p - R * |p|`` (``p * (1 - R)`` for ``p >= 0``);

where ``p`` is the score of the query's *least* similar positive (:func:`positive_reference`), so a record with
several positives is filtered against the weakest one. :func:`filter_candidates` applies them and counts the
removals by the first check that fails, in the order above.
"""
from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar

import numpy as np

from FlagEmbedding.utils.errors import InputError

#: The filters, in the order a removal is attributed to them.
FILTER_NAMES = ("max_score", "absolute_margin", "relative_margin")
#: ``--sampling_strategy`` values: ``random`` (1.4.2: a random sample of the candidates in the range) or ``top``
#: (the best-ranked ones).
SAMPLING_STRATEGIES = ("random", "top")
#: ``--underfilled`` values: what happens to a query left with fewer than ``negative_number`` candidates.
UNDERFILLED_ACTIONS = ("random", "keep", "drop", "pad")

T = TypeVar("T")


def _finite(name: str, value: Optional[float]) -> None:
    if value is not None and not math.isfinite(value):
        raise InputError(f"--{name} must be a finite number, got {value}.")


@dataclass(frozen=True)
class NegativeFilters:
    """The score filters of hard-negative mining; ``None`` turns one off (see the module docstring).

    Raises :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) naming the flag for a non-finite
    value, a negative margin or ``relative_margin >= 1``.
    """

    max_score: Optional[float] = None
    absolute_margin: Optional[float] = None
    relative_margin: Optional[float] = None

    def __post_init__(self) -> None:
        for name in FILTER_NAMES:
            _finite(name, getattr(self, name))
        if self.absolute_margin is not None and self.absolute_margin < 0:
            raise InputError(f"--absolute_margin must be >= 0 (how far below the least similar positive a negative "
                             f"must score), got {self.absolute_margin}.")
        if self.relative_margin is not None and not 0 <= self.relative_margin < 1:
            raise InputError(f"--relative_margin must be in [0, 1) (the fraction of the least similar positive's "
                             f"score a negative must stay below it), got {self.relative_margin}.")

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(getattr(self, name) is not None for name in FILTER_NAMES)

    @property
    def needs_positive(self) -> bool:
        """Whether a margin is set (the margins compare with the least similar positive's score)."""
        return self.absolute_margin is not None or self.relative_margin is not None

    def removals(self, scores: Any, positive: Optional[float]) -> np.ndarray:
        """Per score, ``0`` when kept, else ``1 + i`` for the first filter ``FILTER_NAMES[i]`` that removes it (a
        NaN score is removed by any filter); ``positive`` is the least similar positive's score, needed (else
        ``ValueError``) when a margin is set."""
        values = np.asarray(scores, dtype=np.float64).reshape(-1)
        failed = []
        if self.max_score is not None:
            failed.append(~(values <= self.max_score))
        if self.needs_positive:
            if positive is None:
                raise ValueError("positive: a margin filter needs the score of the least similar positive.")
            if self.absolute_margin is not None:
                failed.append(~(values < positive - self.absolute_margin))
            if self.relative_margin is not None:
                failed.append(~(values < relative_threshold(positive, self.relative_margin)))
        codes = np.zeros(len(values), dtype=np.int64)
        names = [name for name in FILTER_NAMES if getattr(self, name) is not None]
        for name, mask in reversed(list(zip(names, failed))):  # the first failing filter is written last
            codes[mask] = FILTER_NAMES.index(name) + 1
        return codes

    def removal_reason(self, score: float, positive: Optional[float]) -> Optional[str]:
        """The first filter (in :data:`FILTER_NAMES` order) that removes a candidate scoring ``score`` for a query
        whose least similar positive scores ``positive``; ``None`` when the candidate is kept."""
        code = int(self.removals([score], positive)[0])
        return FILTER_NAMES[code - 1] if code else None


def relative_threshold(positive: float, relative_margin: float) -> float:
    """The score a candidate must stay below under ``--relative_margin``: ``positive - R * |positive|``.

    For ``positive >= 0`` this is ``positive * (1 - R)``; for a negative positive score (e.g. a raw reranker
    logit) it still lies ``R * |positive|`` *below* the positive, where ``positive * (1 - R)`` would lie above it.
    """
    return positive - relative_margin * abs(positive)


def positive_reference(scores: Sequence[float]) -> Optional[float]:
    """The score the margins compare with: the least similar positive's (the minimum); ``None`` without
    positives."""
    return min(scores) if len(scores) else None


def empty_counts() -> Dict[str, int]:
    """``{filter name: 0}`` for every filter."""
    return {name: 0 for name in FILTER_NAMES}


def filter_candidates(candidates: Sequence[T], scores: Any, positive: Optional[float],
                      filters: NegativeFilters, removed: Optional[Dict[str, int]] = None) -> List[T]:
    """The ``candidates`` (in their order) that ``filters`` keep, given their ``scores`` (a sequence or array)
    and the least similar positive's score ``positive``; each removal is added to ``removed[filter name]`` when
    given."""
    if len(candidates) != len(scores):
        raise ValueError(f"scores: {len(scores)} scores for {len(candidates)} candidates.")
    if not filters.active:
        return list(candidates)
    codes = filters.removals(scores, positive)
    if removed is not None:
        for code, count in enumerate(np.bincount(codes, minlength=len(FILTER_NAMES) + 1)[1:], start=1):
            removed[FILTER_NAMES[code - 1]] += int(count)
    return [candidate for candidate, code in zip(candidates, codes) if code == 0]


def sample_negatives(candidates: Sequence[T], number: int, strategy: str = "random",
                     rng: Optional[random.Random] = None) -> List[T]:
    """``number`` of ``candidates`` (ranked best first): all of them in rank order when there are at most
    ``number``; else the first ``number`` (``top``) or ``random.sample`` of them (``random``, the module's
    generator unless ``rng`` is given, as 1.4.2 drew them)."""
    if strategy not in SAMPLING_STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(SAMPLING_STRATEGIES)}, got {strategy!r}.")
    if len(candidates) <= number:
        return list(candidates)
    if strategy == "top":
        return list(candidates[:number])
    sample = rng.sample if rng is not None else random.sample
    return sample(list(candidates), number)


def count_summary(counts: Sequence[int]) -> Tuple[Optional[int], Optional[float]]:
    """``(min, median)`` of the negatives per query (``(None, None)`` for no queries)."""
    if not counts:
        return None, None
    return min(counts), float(statistics.median(counts))
