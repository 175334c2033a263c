"""The shared body of every fine-tuning ``__main__``."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from FlagEmbedding.utils.cli import ArgumentParser


def parse_args(model_cls: type, data_cls: type, training_cls: type, argv: Optional[Sequence[str]] = None,
               description: Optional[str] = None) -> tuple:
    """Parse exactly the three dataclasses (unknown flags are errors); ``argv`` defaults to ``sys.argv``."""
    parser = ArgumentParser((model_cls, data_cls, training_cls), description=description)
    return parser.parse_args_into_dataclasses(argv)


def run_main(runner_cls: type, model_cls: type, data_cls: type, training_cls: type,
             argv: Optional[Sequence[str]] = None, description: Optional[str] = None) -> Any:
    """Parse the arguments, build ``runner_cls(model_args=..., data_args=..., training_args=...)``, run it."""
    model_args, data_args, training_args = parse_args(model_cls, data_cls, training_cls, argv, description)
    runner = runner_cls(model_args=model_args, data_args=data_args, training_args=training_args)
    runner.run()
    return runner
