"""MTEB arguments."""
from dataclasses import dataclass, field
from typing import List, Optional

from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs, AbsEvalModelArgs


@dataclass
class MTEBEvalArgs(AbsEvalArgs):
    """:class:`AbsEvalArgs` plus the MTEB task filters. The summary is JSON with ``--eval_output_method json``
    or an ``eval_output_path`` ending in ``.json`` (as the documented command), else markdown."""

    languages: Optional[List[str]] = field(default=None, metadata={"help": "Task languages, e.g. eng."})
    tasks: Optional[List[str]] = field(default=None, metadata={"help": "Task names."})
    task_types: Optional[List[str]] = field(default=None, metadata={"help": "Task types, e.g. Retrieval STS."})
    use_special_instructions: bool = field(default=False, metadata={"help": "Use the per-task query instruction."})
    examples_path: Optional[str] = field(default=None, metadata={"help": "Folder of <Task>.json in-context examples."})


MTEBEvalModelArgs = AbsEvalModelArgs
