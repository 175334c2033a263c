"""BEIR arguments."""
from dataclasses import dataclass, field

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs


@dataclass
class BEIREvalArgs(AbsEvalArgs):
    """:class:`AbsEvalArgs` plus ``use_special_instructions``."""

    use_special_instructions: bool = field(
        default=False, metadata={"help": "Use the per-dataset query instruction of BEIRInstructions."}
    )


BEIREvalModelArgs = AbsEvalModelArgs
