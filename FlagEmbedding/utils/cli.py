"""Command-line plumbing shared by every entry point.

* :class:`OneLineArgumentParser` is the ``argparse`` base of every entry point: the real ``prog``, no prefix
  abbreviations, unknown flags and bad values as one-line errors with a did-you-mean, and ``--help`` ending with
  the entry point's ``Examples:``; :class:`ArgumentParser` is the ``HfArgumentParser`` of the dataclass-based
  entry points built on it.
* :func:`run_cli` runs an entry point: a user error becomes one ``error: ...`` line on stderr and a non-zero exit,
  anything else keeps its traceback; ``FLAGEMBEDDING_DEBUG=1`` shows the traceback of user errors too.
* :func:`configure_logging` sets up the log lines of every entry point.
"""
from __future__ import annotations

import argparse
import difflib
import logging
import os
import sys
from typing import Any, Callable, Iterable, List, NoReturn, Optional, Sequence, Tuple, TypeVar, Union, cast, overload

from transformers import HfArgumentParser
from transformers.hf_argparser import DataClassType

from FlagEmbedding.utils.errors import InputError, UserError, user_error_message

DEBUG_ENV = "FLAGEMBEDDING_DEBUG"
#: exit status of a user error found while running (argument errors exit with argparse's 2)
USER_ERROR_STATUS = 1
ARGUMENT_ERROR_STATUS = 2
#: the log line of every entry point (the fine-tuning format of FlagEmbedding 1.4.2)
LOG_FORMAT = "%(asctime)s - %(levelname)s - %(name)s - %(message)s"

_N = TypeVar("_N")


def configure_logging(level: Union[int, str] = logging.INFO) -> None:
    """Log ``level`` and above to stderr in :data:`LOG_FORMAT` (``logging.basicConfig``: nothing changes when the
    root logger already has a handler, e.g. in an application that imports the entry point)."""
    logging.basicConfig(level=level, format=LOG_FORMAT)


def run_cli(main: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``main(*args, **kwargs)`` as a command line: user errors end in one ``error: ...`` line and exit 1.

    Set ``FLAGEMBEDDING_DEBUG=1`` to see the traceback of a user error as well.
    """
    try:
        return main(*args, **kwargs)
    except Exception as error:  # noqa: BLE001 - classified below; bugs are re-raised untouched
        message = user_error_message(error)
        if message is None or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            raise
        print(f"error: {message}", file=sys.stderr)
        sys.exit(USER_ERROR_STATUS)


def entry_point_prog() -> str:
    """How the running command was invoked: ``python -m <module>`` or ``python <script>``."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name:
        module = spec.name[: -len(".__main__")] if spec.name.endswith(".__main__") else spec.name
        return f"python -m {module}"
    script = sys.argv[0] if sys.argv and sys.argv[0] else "FlagEmbedding"
    return f"python {os.path.relpath(script) if os.path.isabs(script) else script}"


def format_examples(examples: Sequence[str]) -> str:
    """The ``Examples:`` section of a ``--help``: one command per line, indented two spaces, kept verbatim."""
    return "Examples:\n" + "".join(f"  {example}\n" for example in examples) if examples else ""


class OneLineArgumentParser(argparse.ArgumentParser):
    """``argparse`` for the package's command lines: ``prog`` defaults to how the command was started, no prefix
    abbreviations (``--dataset_name`` is not ``--dataset_names``), and every error is one ``error: ...`` line
    (exit status 2) — unknown flags with a did-you-mean.

    ``examples`` (complete command lines) end the ``--help`` text as an ``Examples:`` section, verbatim whatever
    the ``formatter_class`` (which still formats the flags and the description).
    """

    def __init__(self, examples: Sequence[str] = (), **kwargs: Any):
        kwargs.setdefault("prog", entry_point_prog())
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(**kwargs)
        if isinstance(examples, str):
            raise TypeError("examples must be a sequence of command lines, not one string")
        self.examples: Tuple[str, ...] = tuple(examples)

    def format_help(self) -> str:
        """``argparse``'s help, then :func:`format_examples` of :attr:`examples`."""
        text = super().format_help()
        return text + ("\n" + format_examples(self.examples) if self.examples else "")

    def error(self, message: str) -> NoReturn:
        """One line on stderr (``error: ...`` + how to get help), exit status 2."""
        print(f"error: {message} (see `{self.prog} --help`)", file=sys.stderr)
        sys.exit(ARGUMENT_ERROR_STATUS)

    def option_strings(self) -> List[str]:
        """Every long option the parser accepts."""
        return [option for action in self._actions for option in action.option_strings if option.startswith("--")]

    def unknown_flags_message(self, remaining: Sequence[str]) -> str:
        """``unrecognized arguments: ...`` naming the closest known flag of the first unknown one."""
        message = f"unrecognized arguments: {' '.join(remaining)}"
        flags = [arg.split("=", 1)[0] for arg in remaining if arg.startswith("--")]
        if flags:
            close = difflib.get_close_matches(flags[0], self.option_strings(), n=1, cutoff=0.6)
            if close:
                message += f"; did you mean {close[0]}?"
        return message

    @overload
    def parse_args(self, args: Optional[Iterable[str]] = None, namespace: None = None) -> argparse.Namespace: ...

    @overload
    def parse_args(self, args: Optional[Iterable[str]], namespace: _N) -> _N: ...

    @overload
    def parse_args(self, *, namespace: _N) -> _N: ...

    def parse_args(self, args: Optional[Iterable[str]] = None, namespace: Any = None) -> Any:
        """``argparse``'s, with the did-you-mean message for unknown flags."""
        parsed, remaining = self.parse_known_args(args, namespace)
        if remaining:
            self.error(self.unknown_flags_message(remaining))
        return parsed


class ArgumentParser(HfArgumentParser, OneLineArgumentParser):
    """``HfArgumentParser`` with :class:`OneLineArgumentParser`'s errors, for the dataclass-based entry points.

    ``--no_<flag>`` helps say what they turn off; a ``ValueError`` from a dataclass' ``__post_init__`` becomes an
    :class:`~FlagEmbedding.utils.errors.InputError` (one line under :func:`run_cli`).
    """

    def __init__(self, dataclass_types: Iterable[type], description: Optional[str] = None,
                 examples: Sequence[str] = (), **kwargs: Any):
        super().__init__(cast(List[DataClassType], list(dataclass_types)), description=description,
                         examples=examples, **kwargs)
        for action in self._actions:
            negated = [option for option in action.option_strings if option.startswith("--no_")]
            if negated and isinstance(action, argparse._StoreFalseAction):
                action.help = f"Turn off --{action.dest}."
                action.default = argparse.SUPPRESS  # the positive flag sets the default; don't show it twice

    def parse_args_into_dataclasses(self, args: Optional[Sequence[str]] = None, return_remaining_strings: bool = False,
                                    look_for_args_file: bool = False, args_filename: Optional[str] = None,
                                    args_file_flag: Optional[str] = None) -> Tuple[Any, ...]:
        """Like ``HfArgumentParser``'s, with a one-line error for unknown flags and :class:`InputError` for values
        the dataclasses reject. ``args`` defaults to ``sys.argv[1:]``; no args file is read unless
        ``look_for_args_file`` asks for one."""
        args = list(sys.argv[1:] if args is None else args)
        return_remaining = return_remaining_strings
        try:
            *outputs, remaining = super().parse_args_into_dataclasses(
                args=args, return_remaining_strings=True, look_for_args_file=look_for_args_file,
                args_filename=args_filename, args_file_flag=args_file_flag)
        except UserError:
            raise
        except ValueError as error:  # raised by a dataclass' __post_init__ (ours or transformers'): a bad flag value
            raise InputError(str(error)) from error
        if return_remaining:
            return (*outputs, remaining)
        if remaining:
            self.error(self.unknown_flags_message(remaining))
        return tuple(outputs)

