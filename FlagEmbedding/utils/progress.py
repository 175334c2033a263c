"""Progress of the long jobs: one tqdm bar per stage, and one summary line at the end.

* :func:`stage_bar` opens the bar of a stage (encoding a corpus, searching, reranking, building an index part).
  While a stage bar is open (used as a context manager), the bars opened inside it, e.g. the per-call bar of
  ``encode_corpus`` run once per cache shard, draw nothing of their own: they advance the stage bar instead,
  so a job shows one bar per stage, with its total and ETA, never a bar per shard or per call. A stage split in
  parts (:meth:`StageBar.part`: one shard, one chunk of pairs) gives each part its share of the stage total,
  whatever unit the inner bars count in.
* ``TQDM_DISABLE=1`` in the environment turns every bar off (tqdm's own switch, honoured even where a bar is
  opened with an explicit ``disable``).
* :class:`JobSummary` times a job and logs its last line at INFO, e.g.
  ``wrote ./eval_results.md, nDCG@10 0.6431 (scifact/test), 3 min 12 s``: what was written where, the headline
  figure, how long (:func:`format_duration`).
"""
from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, Iterator, Optional, Tuple, Type, Union

from tqdm.auto import tqdm

__all__ = ["JobSummary", "StageBar", "format_duration", "in_job", "in_steps", "progress_disabled", "stage_bar"]

#: the environment switch of tqdm (``TQDM_DISABLE=1``) that turns every bar off
DISABLE_ENV = "TQDM_DISABLE"

_ACTIVE: ContextVar[Optional["StageBar"]] = ContextVar("flagembedding_stage_bar", default=None)


def progress_disabled() -> bool:
    """Whether ``TQDM_DISABLE`` asks for no progress bars (any value but empty, ``0`` or ``false``)."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def format_duration(seconds: float) -> str:
    """A duration for a log line: ``0.4 s``, ``12.3 s``, ``3 min 12 s``, ``2 h 05 min``.

    Raises ``ValueError`` for a negative or non-finite ``seconds``.
    """
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"seconds must be a finite number >= 0, got {seconds!r}.")
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    minutes = int(round(seconds / 60))
    return f"{minutes // 60} h {minutes % 60:02d} min"


class _Part:
    """A share of a stage bar: the inner bars of one part advance the stage by ``size`` units in all."""

    def __init__(self, size: float):
        self.size = size
        self.sent = 0


class _JoinedBar:
    """What :func:`stage_bar` returns inside an open stage: updates go to the stage's bar (scaled to the current
    part's size when the stage is split in parts), nothing is drawn."""

    def __init__(self, stage: "StageBar", total: Optional[float]):
        self.stage = stage
        self.total = total
        self.n: float = 0
        self.share = stage.current_part

    def update(self, n: float = 1) -> None:
        """Advance by ``n`` of this bar's units."""
        self.n += n
        if self.share is None:
            self.stage.update(n)
            return
        done = 1.0 if not self.total else min(1.0, self.n / self.total)
        target = int(self.share.size * done)
        if target > self.share.sent:
            self.stage.update(target - self.share.sent)
            self.share.sent = target

    @contextmanager
    def part(self, size: float) -> Iterator[None]:
        """The bars opened in the block advance the open stage themselves (``size`` is not used)."""
        yield

    def close(self) -> None:
        """Nothing to close: the stage bar stays open."""

    def __enter__(self) -> "_JoinedBar":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class StageBar:
    """The one bar of a job's stage (a ``tqdm`` bar with a total, so it shows an ETA).

    Used as a context manager it is the *open stage*: bars opened inside it with :func:`stage_bar` advance it
    instead of drawing their own, and it is closed at the end of the block.

    Args:
        total: Units of work in the stage (documents, queries, pairs, steps).
        desc: What the stage does (``"Encoding corpus"``).
        unit: The unit's name (``"doc"``).
        initial: Units already done (a resumed stage).
        disable: Draw nothing (``TQDM_DISABLE=1`` also disables it).
        leave: Keep the finished bar on screen.
    """

    def __init__(self, total: Optional[float], desc: str, unit: str = "it", initial: float = 0,
                 disable: bool = False, leave: bool = True):
        self.bar = tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave,
                        disable=disable or progress_disabled())
        self.current_part: Optional[_Part] = None
        self._token: Optional[Token[Optional[StageBar]]] = None

    @property
    def n(self) -> float:
        """Units done so far."""
        return float(self.bar.n)

    @property
    def total(self) -> Optional[float]:
        """Units in the stage."""
        return self.bar.total

    @property
    def desc(self) -> str:
        """The stage's description."""
        return str(self.bar.desc)

    def update(self, n: float = 1) -> None:
        """Advance by ``n`` units."""
        self.bar.update(n)

    @contextmanager
    def part(self, size: float) -> Iterator[None]:
        """A block that does ``size`` units of the stage: the bars opened in it advance the stage in proportion
        to their own progress, and whatever they left undone is added when the block ends without an error
        (so a part that opened no bar still counts)."""
        outer, part = self.current_part, _Part(size)
        self.current_part = part
        try:
            yield
        finally:
            self.current_part = outer
        if size > part.sent:
            self.update(size - part.sent)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()

    def __enter__(self) -> "StageBar":
        self._token = _ACTIVE.set(self)
        return self

    def __exit__(self, exc_type: Optional[Type[BaseException]], exc: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        if self._token is not None:
            _ACTIVE.reset(self._token)
            self._token = None
        self.close()


def stage_bar(total: Optional[float], desc: str, unit: str = "it", initial: float = 0, disable: bool = False,
              leave: bool = True) -> Union[StageBar, _JoinedBar]:
    """The bar of a stage (see :class:`StageBar` for the arguments); inside an open stage, a bar that advances
    that stage's bar and draws nothing (``desc``, ``unit`` and ``disable`` are then the open stage's)."""
    active = _ACTIVE.get()
    if active is not None:
        return _JoinedBar(active, total)
    return StageBar(total, desc, unit=unit, initial=initial, disable=disable, leave=leave)


def in_steps(count: int, step: int, desc: str, unit: str = "it", disable: bool = False) -> Iterator[Tuple[int, int]]:
    """``(start, end)`` of consecutive slices of ``step`` items out of ``count``, advancing one stage bar
    (:func:`stage_bar`) by each slice once the caller has processed it."""
    if step < 1:
        raise ValueError(f"step must be a positive integer, got {step}.")
    with stage_bar(count, desc, unit=unit, disable=disable) as bar:
        for start in range(0, count, step):
            end = min(count, start + step)
            yield start, end
            bar.update(end - start)


_JOB: ContextVar[Optional["JobSummary"]] = ContextVar("flagembedding_job", default=None)


def in_job() -> bool:
    """Whether a job (a command line: a :class:`JobSummary` used as a context manager) is running: library calls
    that stay quiet when called now and then (a search of a few queries) show their stage bars inside one."""
    return _JOB.get() is not None


class JobSummary:
    """Times a job from its creation and logs its one summary line (:meth:`log`).

    Used as a context manager, it marks the block as a job (see :func:`in_job`).

    Args:
        logger: The job's logger (the line is logged at INFO).
    """

    def __init__(self, logger: logging.Logger):
        self.logger = logger
        self.started = time.perf_counter()
        self._token: Optional[Token[Optional[JobSummary]]] = None

    def __enter__(self) -> "JobSummary":
        self._token = _JOB.set(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _JOB.reset(self._token)
            self._token = None

    @property
    def seconds(self) -> float:
        """Seconds since the job started."""
        return time.perf_counter() - self.started

    def line(self, *parts: str, took: str = "") -> str:
        """``parts`` and the duration (after ``took``, e.g. ``"loaded in"``), joined by ``", "`` (empty parts
        left out)."""
        duration = f"{took} {format_duration(self.seconds)}" if took else format_duration(self.seconds)
        return ", ".join([part for part in parts if part] + [duration])

    def log(self, *parts: str, took: str = "") -> str:
        """Log :meth:`line` at INFO and return it."""
        text = self.line(*parts, took=took)
        self.logger.info(text)
        return text
