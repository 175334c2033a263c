"""Reranker classes by name and the registry ``FlagAutoReranker`` resolves checkpoint names with."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Dict, Type

from FlagEmbedding.abc.inference.reranker import AbsReranker
from FlagEmbedding.inference.reranker.decoder_only import (
    FlagLLMReranker,
    LayerWiseFlagLLMReranker,
    LightWeightFlagLLMReranker,
    Qwen3LLMReranker,
)
from FlagEmbedding.inference.reranker.encoder_only import FlagReranker


class RerankerModelClass(Enum):
    """The reranker families (value = the string accepted by ``FlagAutoReranker``'s ``model_class``)."""

    ENCODER_ONLY_BASE = "encoder-only-base"
    DECODER_ONLY_BASE = "decoder-only-base"
    DECODER_ONLY_LAYERWISE = "decoder-only-layerwise"
    DECODER_ONLY_LIGHTWEIGHT = "decoder-only-lightweight"
    DECODER_ONLY_QWEN3 = "decoder-only-qwen3"


RERANKER_CLASS_MAPPING: Dict[RerankerModelClass, Type[AbsReranker]] = OrderedDict([
    (RerankerModelClass.ENCODER_ONLY_BASE, FlagReranker),
    (RerankerModelClass.DECODER_ONLY_BASE, FlagLLMReranker),
    (RerankerModelClass.DECODER_ONLY_LAYERWISE, LayerWiseFlagLLMReranker),
    (RerankerModelClass.DECODER_ONLY_LIGHTWEIGHT, LightWeightFlagLLMReranker),
    (RerankerModelClass.DECODER_ONLY_QWEN3, Qwen3LLMReranker),
])


@dataclass
class RerankerConfig:
    """Registry entry: the reranker class and whether the checkpoint needs remote code."""

    model_class: Type[AbsReranker]
    trust_remote_code: bool = False


AUTO_RERANKER_MAPPING: Dict[str, RerankerConfig] = OrderedDict([
    # BGE
    ("bge-reranker-base", RerankerConfig(FlagReranker)),
    ("bge-reranker-large", RerankerConfig(FlagReranker)),
    ("bge-reranker-v2-m3", RerankerConfig(FlagReranker)),
    ("bge-reranker-v2-gemma", RerankerConfig(FlagLLMReranker)),
    ("bge-reranker-v2-minicpm-layerwise", RerankerConfig(LayerWiseFlagLLMReranker)),
    ("bge-reranker-v2.5-gemma2-lightweight", RerankerConfig(LightWeightFlagLLMReranker)),
    # others (their custom architectures need remote code)
    ("jina-reranker-v2-base-multilingual", RerankerConfig(FlagReranker, trust_remote_code=True)),
    ("gte-multilingual-reranker-base", RerankerConfig(FlagReranker, trust_remote_code=True)),
    ("bce-reranker-base_v1", RerankerConfig(FlagReranker)),
    ("jina-reranker-v1-turbo-en", RerankerConfig(FlagReranker)),
    # Qwen3 (the model card's chat template, scored by the "yes" / "no" logits)
    ("Qwen3-Reranker-0.6B", RerankerConfig(Qwen3LLMReranker)),
    ("Qwen3-Reranker-4B", RerankerConfig(Qwen3LLMReranker)),
    ("Qwen3-Reranker-8B", RerankerConfig(Qwen3LLMReranker)),
])
