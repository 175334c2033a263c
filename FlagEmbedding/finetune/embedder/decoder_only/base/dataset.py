"""Collators of decoder-only embedders: the abstract ones plus an explicit EOS (read by last-token pooling)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional

from transformers import PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderCollator, AbsEmbedderSameDatasetCollator


def tokenizer_appends_eos(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer's own special tokens already end every text with EOS."""
    eos = tokenizer.eos_token_id
    return eos is not None and tokenizer("a")["input_ids"][-1:] == [eos]


@dataclass
class EosCollatorMixin:
    """Collator part: end every text with the EOS id (within the length limit) unless the tokenizer already
    does (many tokenizers ignore ``add_eos_token``). Off when ``append_eos`` is False."""

    append_eos: bool = True

    def eos_to_append(self) -> Optional[int]:
        """The EOS id to append, or None when nothing needs appending."""
        tokenizer = self.tokenizer  # type: ignore[attr-defined]
        if not self.append_eos or tokenizer.eos_token_id is None or tokenizer_appends_eos(tokenizer):
            return None
        return tokenizer.eos_token_id

    def encode_texts(self, texts: List[str], max_length: int) -> Dict[str, List[List[int]]]:
        """Token ids truncated to ``max_length - 1``, then EOS (mask 1) appended."""
        eos = self.eos_to_append()
        if eos is None:
            return super().encode_texts(texts, max_length)  # type: ignore[misc]
        encoded = super().encode_texts(texts, max_length - 1)  # type: ignore[misc]
        for key, rows in encoded.items():
            for row in rows:
                row.append(eos if key == "input_ids" else 1 if key == "attention_mask" else (row[-1] if row else 0))
        return encoded


@dataclass
class DecoderOnlyEmbedderCollator(EosCollatorMixin, AbsEmbedderCollator):
    """:class:`AbsEmbedderCollator` with an explicit EOS."""


@dataclass
class DecoderOnlyEmbedderSameDatasetCollator(EosCollatorMixin, AbsEmbedderSameDatasetCollator):
    """:class:`AbsEmbedderSameDatasetCollator` with an explicit EOS."""
