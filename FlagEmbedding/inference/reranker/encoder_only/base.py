"""Encoder cross-encoder reranker (``FlagReranker``): one relevance logit per ``(query, passage)`` pair."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
from transformers import AutoModelForSequenceClassification

from FlagEmbedding.abc.inference.devices import load_dtype
from FlagEmbedding.abc.inference.reranker import AbsReranker, Features, keep_of_second
from FlagEmbedding.utils.hub import from_pretrained


class BaseReranker(AbsReranker):
    """Cross-encoder reranker (bge-reranker-base/large, bge-reranker-v2-m3, ...).

    The query is cut to ``query_max_length`` tokens, the passage to ``max_length``; the pair is assembled
    with the model's special tokens (XLM-R: ``<s> q </s></s> p </s>``) and only the passage is truncated so
    the pair fits ``max_length``. The score is the model's single logit.

    Args (beyond :class:`~FlagEmbedding.abc.inference.AbsReranker`):
        trust_remote_code: Passed to ``from_pretrained``.
        cache_dir: Hugging Face download cache.

    Raises:
        ValueError: If the checkpoint's classifier does not have exactly one label.
    """

    onnx_output = "logits"

    def __init__(
        self,
        model_name_or_path: str,
        *,
        trust_remote_code: bool = False,
        cache_dir: Optional[str] = None,
        **kwargs: Any,
    ):
        super().__init__(model_name_or_path, trust_remote_code=trust_remote_code, cache_dir=cache_dir, **kwargs)
        self.tokenizer = self.load_tokenizer()
        self.model = from_pretrained(
            AutoModelForSequenceClassification.from_pretrained, model_name_or_path,
            dtype=load_dtype(self.target_devices, self.use_fp16, self.use_bf16),
            trust_remote_code=trust_remote_code, cache_dir=cache_dir,
        )
        num_labels = getattr(self.model.config, "num_labels", 1)
        if num_labels != 1:
            raise ValueError(
                f"FlagReranker needs a sequence classifier with exactly one output label (a relevance logit); "
                f"'{model_name_or_path}' has num_labels={num_labels}."
            )
        self.model.eval()

    def prepare_features(
        self,
        pairs: List[List[str]],
        query_max_length: int,
        max_length: int,
        options: Dict[str, Any],
        tokenizer_kwargs: Dict[str, Any],
    ) -> Tuple[Features, List[int]]:
        """Assemble each pair with the model's special tokens; sort key = assembled length."""
        common = dict(add_special_tokens=False, truncation=True, **tokenizer_kwargs)
        queries = self.tokenizer([q for q, _ in pairs], max_length=query_max_length, **common)
        passages = self.tokenizer([p for _, p in pairs], max_length=max_length, **common)
        with_type_ids = "token_type_ids" in self.tokenizer.model_input_names
        features: Features = {"input_ids": [], "attention_mask": []}
        if with_type_ids:
            features["token_type_ids"] = []
        n_special = self.tokenizer.num_special_tokens_to_add(pair=True)
        for index in range(len(pairs)):
            ids, type_ids = self.build_pair(queries, passages, index, max_length - n_special)
            features["input_ids"].append(ids)
            features["attention_mask"].append([1] * len(ids))
            if with_type_ids:
                features["token_type_ids"].append(type_ids)
        return features, [len(ids) for ids in features["input_ids"]]

    def build_pair(self, queries: Any, passages: Any, index: int, content_limit: int) -> Tuple[List[int], List[int]]:
        """Ids and token type ids of pair ``index``, the passage cut so query + passage fit ``content_limit``."""
        if getattr(queries, "encodings", None):  # fast tokenizer: assemble the backend encodings
            query, passage = queries.encodings[index], passages.encodings[index]
            passage.truncate(keep_of_second(len(query), len(passage), content_limit))
            processor = self.tokenizer.backend_tokenizer.post_processor
            if processor is None:
                merged = type(query).merge([query, passage])
            else:
                merged = processor.process(query, passage, add_special_tokens=True)
            return merged.ids, merged.type_ids
        query, passage = queries["input_ids"][index], passages["input_ids"][index]
        passage = passage[: keep_of_second(len(query), len(passage), content_limit)]
        ids = self.tokenizer.build_inputs_with_special_tokens(query, passage)
        return ids, self.tokenizer.create_token_type_ids_from_sequences(query, passage)

    def score_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> torch.Tensor:
        """The single logit of each pair."""
        return model(**batch, return_dict=True).logits.view(-1).float()
