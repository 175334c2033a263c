"""The shared body of every fine-tuning ``__main__``."""
from __future__ import annotations

import logging
import sys
from typing import Any, List, Optional, Sequence

from FlagEmbedding.finetune.common.legacy_flags import translate_legacy_flags
from FlagEmbedding.utils.cli import ArgumentParser
from FlagEmbedding.utils.progress import JobSummary

from FlagEmbedding.abc.finetune.common.arguments import warn_unused

logger = logging.getLogger(__name__)


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
    """Parse the arguments, build ``runner_cls(model_args=..., data_args=..., training_args=...)``, run it; the
    main process ends with one INFO line (:func:`training_summary` and the duration)."""
    model_args, data_args, training_args = parse_args(model_cls, data_cls, training_cls, argv, description,
                                                      examples)
    with JobSummary(logger) as job:
        runner = runner_cls(model_args=model_args, data_args=data_args, training_args=training_args)
        runner.run()
    trainer = getattr(runner, "trainer", None)
    if trainer is not None and trainer.is_world_process_zero():
        job.log(*training_summary(trainer.state, training_args.output_dir))
    return runner


def training_summary(state: Any, output_dir: str) -> List[str]:
    """Where the model was saved, the optimizer steps and the last logged training loss of a ``TrainerState``
    (``final loss`` is left out when no loss was logged)."""
    losses = [entry["loss"] for entry in state.log_history if "loss" in entry]
    if not losses:
        losses = [entry["train_loss"] for entry in state.log_history if "train_loss" in entry]
    parts = [f"saved the model to {output_dir}", f"{state.global_step} steps"]
    return parts + ([f"final loss {losses[-1]:.4f}"] if losses else [])
