"""Qwen3-Reranker (``Qwen/Qwen3-Reranker-0.6B`` / ``-4B`` / ``-8B``): the model card's chat template, scored by
the ``yes`` / ``no`` logits at the last position.

The model card builds each input as ``prefix + tokens(format_instruction(instruction, query, doc)) + suffix``
(the middle part tokenized without special tokens and cut to ``max_length - len(prefix) - len(suffix)``),
left-pads the batch and scores ``exp(log_softmax([logit("no"), logit("yes")])[1])``, the probability of ``yes``.
:class:`Qwen3LLMReranker` does exactly that through the decoder-only reranker class; only the template, the
truncation and the two-token score differ from :class:`BaseLLMReranker`.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch

from FlagEmbedding.abc.inference.reranker import Features
from FlagEmbedding.inference.reranker.decoder_only.base import BaseLLMReranker
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.validation import check_pairs

#: the system prompt of the model card (the ``prompt`` option replaces it)
QWEN3_SYSTEM_PROMPT = (
    'Judge whether the Document meets the requirements based on the Query and the Instruct provided. '
    'Note that the answer can only be "yes" or "no".'
)
#: the task instruction of the model card, used when ``query_instruction_for_rerank`` is None
QWEN3_DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"
#: the chat turns around each pair; ``{prompt}`` is the system prompt
QWEN3_PREFIX = "<|im_start|>system\n{prompt}<|im_end|>\n<|im_start|>user\n"
QWEN3_SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
#: the model card's ``format_instruction`` is ``QUERY_TEMPLATE + "\n" + DOCUMENT_TEMPLATE``
QWEN3_QUERY_TEMPLATE = "<Instruct>: {instruction}\n<Query>: {query}"
QWEN3_DOCUMENT_TEMPLATE = "<Document>: {document}"
#: the model card's ``max_length`` (prefix + pair + suffix tokens)
QWEN3_MAX_LENGTH = 8192


class Qwen3LLMReranker(BaseLLMReranker):
    """Qwen3-Reranker with the model card's template and ``yes`` / ``no`` scoring.

    Each pair becomes ``<|im_start|>system\\n{prompt}<|im_end|>\\n<|im_start|>user\\n<Instruct>: {instruction}
    \\n<Query>: {query}\\n<Document>: {passage}<|im_end|>\\n<|im_start|>assistant\\n<think>\\n\\n</think>\\n\\n``.
    The user part is tokenized as one text without special tokens and cut (the tokenizer's truncation side, the
    end for the released tokenizers) so the whole input fits ``max_length`` tokens; batches are left-padded.

    Scores: the raw score of a pair is the log-odds ``logit("yes") - logit("no")`` at the last position;
    ``normalize=True`` (this class's default) maps it through a sigmoid, which is exactly the model card's
    ``exp(log_softmax([logit("no"), logit("yes")])[1])``, the probability of ``yes`` in [0, 1]. Both give the
    same ranking; pass ``normalize=False`` (to the constructor or to ``compute_score``) for the log-odds.
    The options of :class:`BaseLLMReranker` all apply; these differ:

    Args:
        query_instruction_for_rerank: The text of the ``<Instruct>:`` line (None: the model card's default
            :data:`QWEN3_DEFAULT_INSTRUCTION`, as its ``format_instruction`` does).
        passage_instruction_for_rerank: Put before each passage inside the ``<Document>:`` line, with
            ``passage_instruction_format`` (None: the passage as is, as the model card does).
        query_instruction_format: Must stay ``"{}{}"``: the instruction has its own line in the template.
        prompt: The system prompt (default :data:`QWEN3_SYSTEM_PROMPT`); also a per-call option of
            ``compute_score``.
        max_length: Token limit of the whole input, prefix and suffix included (default
            :data:`QWEN3_MAX_LENGTH`, the model card's). ``query_max_length`` is not used: as in the model card,
            the query and the passage are cut together.
        normalize: Sigmoid of the log-odds (default True: the model card's probability).
    """

    DEFAULT_PROMPT = QWEN3_SYSTEM_PROMPT

    def __init__(
        self,
        model_name_or_path: str,
        *,
        query_instruction_for_rerank: Optional[str] = None,
        query_instruction_format: str = "{}{}",
        passage_instruction_for_rerank: Optional[str] = None,
        max_length: int = QWEN3_MAX_LENGTH,
        normalize: bool = True,
        **kwargs: Any,
    ):
        if query_instruction_format != "{}{}":
            raise ValueError(
                f"`query_instruction_format` is not used by {type(self).__name__} (got {query_instruction_format!r}): "
                f"the instruction has its own '<Instruct>:' line; set `query_instruction_for_rerank` to its text."
            )
        super().__init__(
            model_name_or_path, query_instruction_for_rerank=query_instruction_for_rerank,
            query_instruction_format=query_instruction_format,
            passage_instruction_for_rerank=passage_instruction_for_rerank, max_length=max_length,
            normalize=normalize, **kwargs,
        )
        self.yes_loc = self.answer_token_id("yes")
        self.no_loc = self.answer_token_id("no")

    def answer_token_id(self, token: str) -> int:
        """The vocabulary id of the answer token ``token`` (``convert_tokens_to_ids``, as the model card does)."""
        token_id = self.tokenizer.convert_tokens_to_ids(token)
        if not isinstance(token_id, int) or token_id == self.tokenizer.unk_token_id:
            raise InputError(f"The tokenizer of {self.model_name_or_path} has no {token!r} token; a Qwen3-Reranker "
                             f"is scored by the logits of the tokens 'yes' and 'no'.")
        return token_id

    def configure_tokenizer(self) -> None:
        """Pad on the left, as the model card loads the tokenizer."""
        self.tokenizer.padding_side = "left"

    def get_detailed_inputs(self, sentence_pairs: Any) -> List[List[str]]:
        """``[["<Instruct>: {instruction}\\n<Query>: {query}", "<Document>: {passage}"], ...]``."""
        instruction = self.query_instruction_for_rerank
        if instruction is None:
            instruction = QWEN3_DEFAULT_INSTRUCTION
        passage_instruction = self.passage_instruction_for_rerank
        detailed = []
        for query, passage in check_pairs(sentence_pairs):
            if passage_instruction is not None:
                passage = self.get_detailed_instruct(self.passage_instruction_format, passage_instruction, passage)
            detailed.append([QWEN3_QUERY_TEMPLATE.format(instruction=instruction, query=query),
                             QWEN3_DOCUMENT_TEMPLATE.format(document=passage)])
        return detailed

    def prepare_features(self, pairs: List[List[str]], query_max_length: int, max_length: int, options: Dict[str, Any],
                         tokenizer_kwargs: Dict[str, Any]) -> Tuple[Features, List[int]]:
        """``prefix + tokens(query + "\\n" + passage)[:room] + suffix`` per pair, ``room = max_length - len(prefix)
        - len(suffix)``; sort key = the input length. ``query_max_length`` is not used."""
        plain = dict(add_special_tokens=False)
        prefix = self.tokenizer(QWEN3_PREFIX.format(prompt=options["prompt"]), **plain)["input_ids"]
        suffix = self.tokenizer(QWEN3_SUFFIX, **plain)["input_ids"]
        room = max_length - len(prefix) - len(suffix)
        if room <= 0:
            raise ValueError(f"`max_length` ({max_length}) leaves no room for the pair: the Qwen3-Reranker template "
                             f"alone takes {len(prefix) + len(suffix)} tokens; raise `max_length`.")
        texts = [f"{query}\n{passage}" for query, passage in pairs]
        bodies = self.tokenizer(texts, truncation=True, max_length=room, **plain, **tokenizer_kwargs)["input_ids"]
        ids = [prefix + body + suffix for body in bodies]
        return {"input_ids": ids, "attention_mask": [[1] * len(row) for row in ids]}, [len(row) for row in ids]

    def score_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> torch.Tensor:
        """Log-odds ``logit("yes") - logit("no")`` at each row's last real token (its sigmoid is p(yes))."""
        logits = self.last_token_logits(model, batch).float()
        return logits[:, self.yes_loc] - logits[:, self.no_loc]
