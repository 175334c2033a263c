"""The shared body of every fine-tuning ``__main__``."""
from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

from FlagEmbedding.finetune.common.legacy_flags import translate_legacy_flags
from FlagEmbedding.utils.cli import ArgumentParser

from FlagEmbedding.abc.finetune.common.arguments import warn_unused


def parse_args(model_cls: type, data_cls: type, training_cls: type, argv: Optional[Sequence[str]] = None,
               description: Optional[str] = None, examples: Sequence[str] = ()) -> tuple:
    """Parse exactly the three dataclasses (unknown flags are errors; set unused ones warn); ``argv`` defaults to
    ``sys.argv``.

    ``TrainingArguments`` flags removed by transformers 5 are translated first (see
    :mod:`~FlagEmbedding.finetune.common.legacy_flags`). ``description`` and ``examples`` make the ``--help``.
    """
    parser = ArgumentParser((model_cls, data_cls, training_cls), description=description, examples=examples)
    parsed = parser.parse_args_into_dataclasses(translate_legacy_flags(sys.argv[1:] if argv is None else argv))
    warn_unused(*parsed)
    return parsed


def run_main(runner_cls: type, model_cls: type, data_cls: type, training_cls: type,
             argv: Optional[Sequence[str]] = None, description: Optional[str] = None,
             examples: Sequence[str] = ()) -> Any:
    """Parse the arguments, build ``runner_cls(model_args=..., data_args=..., training_args=...)``, run it."""
    model_args, data_args, training_args = parse_args(model_cls, data_cls, training_cls, argv, description,
                                                      examples)
    runner = runner_cls(model_args=model_args, data_args=data_args, training_args=training_args)
    runner.run()
    return runner
