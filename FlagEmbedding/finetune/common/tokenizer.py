"""Tokenizer setup of the decoder-only (LLM) fine-tuning kinds: a pad token and left padding."""
from __future__ import annotations

from transformers import PreTrainedTokenizerBase


def configure_decoder_tokenizer(tokenizer: PreTrainedTokenizerBase, use_eod_id: bool = True) -> PreTrainedTokenizerBase:
    """Left padding and, when the tokenizer has no pad token, pad = unk, else (``use_eod_id``) Qwen-1's
    ``eod_id`` with bos / eos = its ``im_start_id`` / ``im_end_id``, else eos. Returns ``tokenizer``, changed in
    place. The embedder passes ``use_eod_id=False`` (pad = unk, else eos), the reranker the default."""
    if tokenizer.pad_token is None:
        eod_id = getattr(tokenizer, "eod_id", None) if use_eod_id else None
        if tokenizer.unk_token is not None:
            tokenizer.pad_token = tokenizer.unk_token
        elif eod_id is not None:
            tokenizer.pad_token_id = eod_id
            tokenizer.bos_token_id = getattr(tokenizer, "im_start_id", tokenizer.bos_token_id)
            tokenizer.eos_token_id = getattr(tokenizer, "im_end_id", tokenizer.eos_token_id)
        else:
            tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer
