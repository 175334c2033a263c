"""Reranker training datasets (cross-encoder pairs or the LLM prompt format) and their collators."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import datasets
from torch.utils.data import Dataset
from transformers import DataCollatorForSeq2Seq, DataCollatorWithPadding, PreTrainedTokenizerBase

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
from FlagEmbedding.utils.reranker_inputs import DEFAULT_LLM_PROMPT, bos_ids, cross_encoder_features, llm_input_ids

Encoding = Dict[str, List[int]]
#: ``([one encoding per passage of the group], teacher scores or None)``
RerankerItem = Tuple[List[Encoding], Optional[List[float]]]
#: before pairing, each side is cut to its own budget plus a share of the other side's (FlagEmbedding 1.4.2's
#: ``query_max_len + passage_max_len // 4`` and ``passage_max_len + query_max_len // 2``); the assembled pair is
#: then cut to ``query_max_len + passage_max_len``
QUERY_SHARE_OF_PASSAGE_BUDGET = 0.25
PASSAGE_SHARE_OF_QUERY_BUDGET = 0.5


def side_limits(args: AbsRerankerDataArguments) -> Tuple[int, int]:
    """Token limits of the query and of the passage before they are paired."""
    return (args.query_max_len + int(args.passage_max_len * QUERY_SHARE_OF_PASSAGE_BUDGET),
            args.passage_max_len + int(args.query_max_len * PASSAGE_SHARE_OF_QUERY_BUDGET))


def encode_pair(
    tokenizer: PreTrainedTokenizerBase, query: str, passage: str, query_max: int, passage_max: int, max_length: int
) -> Encoding:
    """Cross-encoder input of one pair: each part cut to its own budget, then joined with the tokenizer's
    pair special tokens and cut on the passage side to ``max_length`` (the inference rule, shared)."""
    features = cross_encoder_features(tokenizer, [(query, passage)], query_max, passage_max, max_length)
    return {key: values[0] for key, values in features.items()}


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

    def create_one_example(self, qry_encoding: str, doc_encoding: str) -> Encoding:
        """Token ids of one (query, passage) input; the original's parameter names (both are texts)."""
        return encode_pair(self.tokenizer, qry_encoding, doc_encoding, *side_limits(self.args), self.max_length)

    def example_options(self, row: Dict[str, Any]) -> Dict[str, Any]:
        """Extra keyword arguments :meth:`create_one_example` takes from a record (none here)."""
        return {}

    def __getitem__(self, item: int) -> RerankerItem:
        row = self.dataset[item]
        rng = self.rng_for(item)
        passages, scores = sample_group(row["pos"], row.get("neg"), self.args.train_group_size,
                                        row.get("pos_scores"), row.get("neg_scores"), rng)
        passages[0] = shuffle_text(passages[0], self.shuffle_ratio, rng)
        query = self.format_query(row)
        options = self.example_options(row)
        return [self.create_one_example(query, self.format_passage(row, p), **options) for p in passages], scores


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

    def example_options(self, row: Dict[str, Any]) -> Dict[str, Any]:
        """The record's ``prompt`` (else :data:`~FlagEmbedding.utils.reranker_inputs.DEFAULT_LLM_PROMPT`)."""
        return {"prompt": row_value(row, "prompt", DEFAULT_LLM_PROMPT)}

    def create_one_example(self, qry_encoding: str, doc_encoding: str,
                           prompt: str = DEFAULT_LLM_PROMPT) -> Encoding:
        """``bos + query + sep + passage + sep + prompt`` ids (see
        :func:`~FlagEmbedding.utils.reranker_inputs.llm_input_ids`), the pair cut to fit the total budget."""
        query_limit, passage_limit = side_limits(self.args)
        prompt_ids = self.token_ids(prompt)
        input_ids = llm_input_ids(
            bos_ids(self.tokenizer), self.token_ids(qry_encoding, query_limit),
            self.sep_ids, self.token_ids(doc_encoding, passage_limit), prompt_ids,
            self.max_length - len(prompt_ids) - len(self.sep_ids),
        )
        return {"input_ids": input_ids, "attention_mask": [1] * len(input_ids)}


def collate_groups(tokenizer: PreTrainedTokenizerBase, features: Sequence[RerankerItem], padding: Any,
                   pad_to_multiple_of: Optional[int], return_tensors: str) -> Dict[str, Any]:
    """Flatten the groups and pad to the longest: ``{"pair": padded encodings, "teacher_scores": flat list or
    None}`` (teacher scores only when every group has them)."""
    encodings = [encoding for group, _ in features for encoding in group]
    scores = [group_scores for _, group_scores in features]
    known = [group_scores for group_scores in scores if group_scores is not None]
    teacher = None
    if scores and len(known) == len(scores):
        teacher = [float(s) for group_scores in known for s in group_scores]
    pair = tokenizer.pad(encodings, padding=padding, pad_to_multiple_of=pad_to_multiple_of,
                         return_tensors=return_tensors)
    return {"pair": dict(pair), "teacher_scores": teacher}


@dataclass
class AbsRerankerCollator(DataCollatorWithPadding):
    """Flatten the groups and pad to the longest (``pad_to_multiple_of`` honoured); see :func:`collate_groups`."""

    query_max_len: int = 32
    passage_max_len: int = 128

    def __call__(self, features: Sequence[RerankerItem]) -> Dict[str, Any]:  # type: ignore[override]
        return collate_groups(self.tokenizer, features, self.padding, self.pad_to_multiple_of, self.return_tensors)


@dataclass
class AbsLLMRerankerCollator(DataCollatorForSeq2Seq):
    """Collator of the LLM format (a ``DataCollatorForSeq2Seq``, as in the original); padding follows the
    tokenizer's side (left for decoder rerankers); see :func:`collate_groups`."""

    query_max_len: int = 32
    passage_max_len: int = 128

    def __call__(self, features: Sequence[RerankerItem],
                 return_tensors: str = "pt") -> Dict[str, Any]:
        return collate_groups(self.tokenizer, features, self.padding, self.pad_to_multiple_of, return_tensors)
