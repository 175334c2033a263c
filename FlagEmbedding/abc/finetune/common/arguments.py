"""Argument pieces shared by the embedder and reranker argument dataclasses."""
from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, List, Optional, Sequence

from transformers import TrainingArguments

from FlagEmbedding.utils.validation import unescape_newlines
from FlagEmbedding.utils.errors import InputError, MissingFileError, MissingPackageError

logger = logging.getLogger(__name__)

#: how the help of an argument accepted only for compatibility starts (see :func:`unused_field`); the metadata
#: of a field is handed to ``argparse`` whole, so the help text is what marks it
UNUSED_HELP = "Unused (kept for compatibility): "


def unused_field(default: Any, effect: str) -> Any:
    """A dataclass field that FlagEmbedding 1.4.2 command lines pass but that changes nothing; ``effect`` says
    what happens instead. :func:`warn_unused` warns when one is set."""
    return field(default=default, metadata={"help": UNUSED_HELP + effect})


def warn_unused(*parsed: Any) -> None:
    """Log a warning for every :func:`unused_field` of the parsed argument dataclasses set to a non-default value."""
    for args in parsed:
        for spec in fields(args) if is_dataclass(args) else ():
            help_text = spec.metadata.get("help", "")
            if help_text.startswith(UNUSED_HELP) and getattr(args, spec.name) != spec.default:
                logger.warning("--%s has no effect (accepted for compatibility): %s", spec.name,
                               help_text[len(UNUSED_HELP):])


def _has_field(cls: type, name: str) -> bool:
    return any(f.name == name for f in fields(cls))


@dataclass
class BaseTrainingArguments(TrainingArguments):
    """HF ``TrainingArguments`` plus flags that transformers 5 removed but the documented fine-tuning commands
    still pass: ``overwrite_output_dir`` and ``warmup_ratio`` (declared only when missing)."""

    if not _has_field(TrainingArguments, "overwrite_output_dir"):
        overwrite_output_dir: bool = field(
            default=False,
            metadata={"help": "Allow training into a non-empty output_dir (checked only with --do_train)."},
        )
    if not _has_field(TrainingArguments, "warmup_ratio"):
        warmup_ratio: Optional[float] = field(
            default=None, metadata={"help": "Warmup as a fraction in [0, 1) of the training steps (sets warmup_steps)."}
        )

    def __post_init__(self) -> None:
        if self.deepspeed and importlib.util.find_spec("deepspeed") is None:
            # checked first: transformers registers a half-built global DeepSpeed config before failing
            raise MissingPackageError(
                "--deepspeed needs the DeepSpeed package, which is not installed: install it with "
                "`pip install --no-build-isolation deepspeed` (after torch), or drop --deepspeed to train without it."
            )
        ratio = getattr(self, "warmup_ratio", None)
        if ratio is not None and not _has_field(TrainingArguments, "warmup_ratio"):
            if not 0 <= ratio < 1:
                raise InputError(f"warmup_ratio must be in [0, 1), got {ratio}.")
            if self.warmup_steps:
                raise InputError("Pass either --warmup_ratio or --warmup_steps, not both.")
            self.warmup_steps = ratio
        super().__post_init__()


def env_token() -> Optional[str]:
    """Default for the ``token`` arguments: the ``HF_TOKEN`` environment variable."""
    return os.getenv("HF_TOKEN", None)


def unescape_fields(args: Any, names: Sequence[str]) -> None:
    """Turn a typed backslash-n into a real newline in each named string field of ``args``."""
    for name in names:
        setattr(args, name, unescape_newlines(getattr(args, name)))


@dataclass
class AbsModelArguments:
    """Which model/tokenizer to start from and how to load them: the leading fields shared by the embedder and
    reranker model arguments (subclasses append theirs, so the command-line order is kept)."""

    model_name_or_path: str = field(metadata={"help": "Local folder or hub id of the model to fine-tune."})
    config_name: Optional[str] = field(default=None, metadata={"help": "Config name or path if not the model's."})
    tokenizer_name: Optional[str] = field(
        default=None, metadata={"help": "Tokenizer name or path if not the model's."}
    )
    cache_dir: Optional[str] = field(default=None, metadata={"help": "Where downloaded models are cached."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Trust remote code when loading."})


@dataclass
class AbsDataArguments:
    """Training files and grouping: the leading fields shared by the embedder and reranker data arguments.

    Subclasses append the rest and must declare ``query_instruction_format`` and ``passage_instruction_format``;
    after parsing, a missing ``train_data`` path raises ``FileNotFoundError`` and a typed backslash-n in the two
    formats becomes a newline.
    """

    train_data: Optional[List[str]] = field(
        default=None, metadata={"help": "Training files (.json/.jsonl) or folders of them.", "nargs": "+"}
    )
    cache_path: Optional[str] = field(default=None, metadata={"help": "Cache folder of the datasets builder."})
    train_group_size: int = field(default=8, metadata={"help": "Passages per query: 1 positive + G-1 negatives."})

    def __post_init__(self) -> None:
        for path in self.train_data or []:
            if not os.path.exists(path):
                raise MissingFileError(f"train_data: cannot find file or directory {path!r}.")
        unescape_fields(self, ("query_instruction_format", "passage_instruction_format"))
