"""Reranker training datasets (cross-encoder pairs or the LLM prompt format) and their collators."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import datasets
from torch.utils.data import Dataset
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.common.data import (
    EpochSeededSampling,
    format_instruction,
    load_train_data,
    row_value,
    sample_group,
    shuffle_text,
)
from FlagEmbedding.abc.finetune.reranker.arguments import AbsRerankerDataArguments
from FlagEmbedding.utils.errors import InputError

Encoding = Dict[str, List[int]]
#: ``([one encoding per passage of the group], teacher scores or None)``
RerankerItem = Tuple[List[Encoding], Optional[List[float]]]
DEFAULT_LLM_PROMPT = (
    "Given a query A and a passage B, determine whether the passage contains an answer to the query by "
    "providing a prediction of either 'Yes' or 'No'."
)


def encode_pair(
    tokenizer: PreTrainedTokenizerBase, query: str, passage: str, query_max: int, passage_max: int, max_length: int
) -> Encoding:
    """Cross-encoder input: each part cut to its own budget, then joined with the tokenizer's pair special
    tokens and cut on the passage side to ``max_length`` (exact token ids, no re-tokenization)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:  # Python tokenizers keep the classic id-level API
        q_ids = tokenizer(query, add_special_tokens=False, truncation=True, max_length=query_max)["input_ids"]
        p_ids = tokenizer(passage, add_special_tokens=False, truncation=True, max_length=passage_max)["input_ids"]
        item = tokenizer.prepare_for_model(q_ids, p_ids, truncation="only_second", max_length=max_length,
                                           padding=False)
        return {key: list(value) for key, value in item.items()}
    if backend.truncation is not None:
        backend.no_truncation()
    if backend.padding is not None:
        backend.no_padding()
    first = backend.encode(query, add_special_tokens=False)
    first.truncate(query_max)
    second = backend.encode(passage, add_special_tokens=False)
    second.truncate(passage_max)
    room = max_length - backend.num_special_tokens_to_add(True) - len(first.ids)
    if room < len(second.ids):
        second.truncate(max(room, 0))
    pair = backend.post_process(first, second, add_special_tokens=True)
    encoding = {"input_ids": list(pair.ids), "attention_mask": [1] * len(pair.ids)}
    if "token_type_ids" in tokenizer.model_input_names:
        encoding["token_type_ids"] = list(pair.type_ids)
    return encoding


class AbsRerankerTrainDataset(EpochSeededSampling, Dataset):
    """Records sampled into groups of cross-encoder pairs (positive first).

    Args:
        args: Data arguments.
        tokenizer: Tokenizer of the model being trained.
        seed: Seed of the group sampling (see :class:`EpochSeededSampling`).
    """

    def __init__(self, args: AbsRerankerDataArguments, tokenizer: PreTrainedTokenizerBase,
                 seed: Optional[int] = None):
        if not args.train_data:
            raise InputError("train_data: at least one training file or folder is required.")
        self.init_sampling(seed)
        self.args = args
        self.tokenizer = tokenizer
        self.shuffle_ratio = args.shuffle_ratio
        self.max_length = args.query_max_len + args.passage_max_len
        self.dataset: datasets.Dataset = load_train_data(
            args.train_data, args.cache_path, args.max_example_num_per_dataset, args.knowledge_distillation,
            args.train_group_size,
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def format_query(self, row: Dict[str, Any]) -> str:
        """When ``query_instruction_for_rerank`` is set: the row's ``query_prompt`` (else that instruction)
        formatted with the query."""
        instruction = self.args.query_instruction_for_rerank
        if instruction is None:
            return row["query"]
        return format_instruction(self.args.query_instruction_format, row_value(row, "query_prompt", instruction),
                                  row["query"])

    def format_passage(self, row: Dict[str, Any], passage: str) -> str:
        """When ``passage_instruction_for_rerank`` is set: the row's ``passage_prompt`` (else that
        instruction) formatted with the passage."""
        instruction = self.args.passage_instruction_for_rerank
        if instruction is None:
            return passage
        return format_instruction(self.args.passage_instruction_format,
                                  row_value(row, "passage_prompt", instruction), passage)

    def create_one_example(self, query: str, passage: str, row: Dict[str, Any]) -> Encoding:
        """Token ids of one (query, passage) input."""
        args = self.args
        return encode_pair(self.tokenizer, query, passage, args.query_max_len + args.passage_max_len // 4,
                           args.passage_max_len + args.query_max_len // 2, self.max_length)

    def __getitem__(self, item: int) -> RerankerItem:
        row = self.dataset[item]
        rng = self.rng_for(item)
        passages, scores = sample_group(row["pos"], row.get("neg"), self.args.train_group_size,
                                        row.get("pos_scores"), row.get("neg_scores"), rng)
        passages[0] = shuffle_text(passages[0], self.shuffle_ratio, rng)
        query = self.format_query(row)
        return [self.create_one_example(query, self.format_passage(row, p), row) for p in passages], scores


class AbsLLMRerankerTrainDataset(AbsRerankerTrainDataset):
    """Records in the decoder-reranker format: ``[bos] query sep passage sep prompt`` (no eos).

    The prompt is the row's ``prompt`` or :data:`DEFAULT_LLM_PROMPT`; the passage side is cut so everything fits
    ``query_max_len + passage_max_len``.
    """

    def __init__(self, args: AbsRerankerDataArguments, tokenizer: PreTrainedTokenizerBase,
                 seed: Optional[int] = None):
        super().__init__(args, tokenizer, seed)
        self.sep_ids = self.tokenizer(args.sep_token, add_special_tokens=False)["input_ids"]

    def token_ids(self, text: str, max_length: Optional[int] = None) -> List[int]:
        """Ids without special tokens (truncated when ``max_length`` is given)."""
        return self.tokenizer(text, add_special_tokens=False, truncation=max_length is not None,
                              max_length=max_length)["input_ids"]

    def create_one_example(self, query: str, passage: str, row: Dict[str, Any]) -> Encoding:
        args, tokenizer = self.args, self.tokenizer
        prompt_ids = self.token_ids(row_value(row, "prompt", DEFAULT_LLM_PROMPT))
        bos = tokenizer.bos_token_id
        first = ([bos] if bos is not None and bos != tokenizer.pad_token_id else [])
        first = first + self.token_ids(query, args.query_max_len + args.passage_max_len // 4)
        second = self.sep_ids + self.token_ids(passage, args.passage_max_len + args.query_max_len // 2)
        room = self.max_length - len(prompt_ids) - len(self.sep_ids) - len(first)
        input_ids = first + second[:max(room, 0)] + self.sep_ids + prompt_ids
        return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids)}


@dataclass
class AbsRerankerCollator(DataCollatorWithPadding):
    """Flatten the groups and pad to the longest (``pad_to_multiple_of`` honoured).

    Returns ``{"pair": padded encodings, "teacher_scores": flat list or None}``.
    """

    query_max_len: int = 32
    passage_max_len: int = 128

    def __call__(self, features: Sequence[RerankerItem]) -> Dict[str, Any]:  # type: ignore[override]
        encodings = [encoding for group, _ in features for encoding in group]
        scores = [group_scores for _, group_scores in features]
        teacher = None
        if scores and all(s is not None for s in scores):
            teacher = [float(s) for group_scores in scores for s in group_scores]
        pair = self.tokenizer.pad(encodings, padding=self.padding, pad_to_multiple_of=self.pad_to_multiple_of,
                                  return_tensors=self.return_tensors)
        return {"pair": dict(pair), "teacher_scores": teacher}


@dataclass
class AbsLLMRerankerCollator(AbsRerankerCollator):
    """Collator of the LLM format; padding follows the tokenizer's side (left for decoder rerankers)."""
