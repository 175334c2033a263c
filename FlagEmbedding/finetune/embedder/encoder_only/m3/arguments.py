"""Arguments of BGE-M3 fine-tuning: ``colbert_dim`` and the unified (dense + sparse + ColBERT) options."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

from FlagEmbedding.abc.finetune.embedder import (
    AbsEmbedderDataArguments,
    AbsEmbedderModelArguments,
    AbsEmbedderTrainingArguments,
)
from FlagEmbedding.utils.errors import InputError

#: The three M3 score types, in the order they are reported and ensembled.
M3_HEADS: Tuple[str, ...] = ("dense", "sparse", "colbert")

EncoderOnlyEmbedderM3DataArguments = AbsEmbedderDataArguments


def resolve_heads(unified_finetuning: bool, unified_heads: List[str]) -> Tuple[str, ...]:
    """The score types trained: ``unified_heads`` (in :data:`M3_HEADS` order), else all three when
    ``unified_finetuning``, else dense only (as in FlagEmbedding 1.4.2).

    Raises:
        ValueError: ``unified_heads`` given without ``unified_finetuning``, or naming an unknown head.
    """
    if not unified_heads:
        return M3_HEADS if unified_finetuning else ("dense",)
    unknown = sorted(set(unified_heads) - set(M3_HEADS))
    if unknown:
        raise InputError(f"unified_heads: unknown head(s) {unknown}; choose from {list(M3_HEADS)}.")
    if not unified_finetuning:
        raise InputError("unified_heads needs --unified_finetuning True (without it only the dense head is trained).")
    return tuple(head for head in M3_HEADS if head in unified_heads)


@dataclass
class EncoderOnlyEmbedderM3ModelArguments(AbsEmbedderModelArguments):
    """Model arguments plus the ColBERT head width."""

    colbert_dim: int = field(default=-1, metadata={"help": "ColBERT vector width (-1: the hidden size)."})


@dataclass
class EncoderOnlyEmbedderM3TrainingArguments(AbsEmbedderTrainingArguments):
    """Training arguments plus unified fine-tuning, self-distillation and freezing options."""

    unified_finetuning: bool = field(
        default=False, metadata={"help": "Train the sparse and ColBERT heads and their ensemble with the dense one."}
    )
    use_self_distill: bool = field(
        default=False, metadata={"help": "Unified mode: distill each head towards the ensemble's scores."}
    )
    fix_encoder: bool = field(default=False, metadata={"help": "Freeze everything but the ColBERT/sparse heads."})
    self_distill_start_step: int = field(
        default=-1, metadata={"help": "Self-distillation starts after this many training forwards."}
    )
    unified_heads: List[str] = field(
        default_factory=list,
        metadata={
            "help": "Unified mode: train only these score types (any of dense sparse colbert; default: all three).",
            "choices": list(M3_HEADS),
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        resolve_heads(self.unified_finetuning, self.unified_heads)
        if self.use_mrl:
            raise NotImplementedError("use_mrl is not supported for M3 fine-tuning.")

    @property
    def m3_heads(self) -> Tuple[str, ...]:
        """The score types this run trains (see :func:`resolve_heads`)."""
        return resolve_heads(self.unified_finetuning, self.unified_heads)
