"""Encoder cross-encoder reranker (``FlagReranker``): one relevance logit per ``(query, passage)`` pair."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch
from transformers import AutoModelForSequenceClassification

from FlagEmbedding.abc.inference.devices import load_dtype
from FlagEmbedding.abc.inference.reranker import AbsReranker, Features
from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.reranker_inputs import cross_encoder_features


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

    def prepare_features(self, pairs: List[List[str]], query_max_length: int, max_length: int, options: Dict[str, Any],
                         tokenizer_kwargs: Dict[str, Any]) -> Tuple[Features, List[int]]:
        """Assemble each pair with the model's special tokens (see
        :func:`~FlagEmbedding.utils.reranker_inputs.cross_encoder_features`; with ``maxp`` one row per passage
        window); sort key = assembled length."""
        maxp = options.get("long_text_strategy") == "maxp"  # absent: truncate
        features = cross_encoder_features(self.tokenizer, pairs, query_max_length, max_length, max_length,
                                          maxp_stride=options["long_text_stride"] if maxp else None,
                                          **tokenizer_kwargs)
        return features, [len(ids) for ids in features["input_ids"]]

    def score_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> torch.Tensor:
        """The single logit of each pair."""
        return model(**batch, return_dict=True).logits.view(-1).float()
