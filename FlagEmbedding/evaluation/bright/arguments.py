"""BRIGHT arguments."""
from dataclasses import dataclass, field

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs


@dataclass
class BrightEvalArgs(AbsEvalArgs):
    """:class:`AbsEvalArgs` plus ``task_type`` and ``use_special_instructions`` (on by default)."""

    task_type: str = field(default="short", metadata={"help": "Document length.", "choices": ["short", "long"]})
    use_special_instructions: bool = field(default=True, metadata={"help": "Use the per-dataset query instruction."})


BrightEvalModelArgs = AbsEvalModelArgs
