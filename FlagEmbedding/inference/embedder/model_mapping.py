"""Registry of known embedder checkpoints: model name -> class, pooling, remote code and query format."""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Dict, List, Tuple, Type

from FlagEmbedding.abc.inference.embedder import AbsEmbedder
from FlagEmbedding.inference.embedder.decoder_only import FlagICLModel, FlagLLMModel, FlagPseudoMoEModel
from FlagEmbedding.inference.embedder.encoder_only import BGEM3FlagModel, FlagModel


class EmbedderModelClass(Enum):
    """The embedder families, by the value used on the command line (``--embedder_model_class``)."""

    ENCODER_ONLY_BASE = "encoder-only-base"
    ENCODER_ONLY_M3 = "encoder-only-m3"
    DECODER_ONLY_BASE = "decoder-only-base"
    DECODER_ONLY_ICL = "decoder-only-icl"
    DECODER_ONLY_PSEUDO_MOE = "decoder-only-pseudo_moe"


class PoolingMethod(Enum):
    """Pooling methods a registry entry can name."""

    LAST_TOKEN = "last_token"
    CLS = "cls"
    MEAN = "mean"


EMBEDDER_CLASS_MAPPING: Dict[EmbedderModelClass, Type[AbsEmbedder]] = {
    EmbedderModelClass.ENCODER_ONLY_BASE: FlagModel,
    EmbedderModelClass.ENCODER_ONLY_M3: BGEM3FlagModel,
    EmbedderModelClass.DECODER_ONLY_BASE: FlagLLMModel,
    EmbedderModelClass.DECODER_ONLY_ICL: FlagICLModel,
    EmbedderModelClass.DECODER_ONLY_PSEUDO_MOE: FlagPseudoMoEModel,
}


@dataclass
class EmbedderConfig:
    """What the registry knows about one checkpoint."""

    model_class: Type[AbsEmbedder]
    pooling_method: PoolingMethod
    trust_remote_code: bool = False
    query_instruction_format: str = "{}{}"


_F1 = "Instruct: {}\nQuery: {}"
_F2 = "<instruct>{}\n<query>{}"
_F3 = "Instruct: {}\nQuery:{}"
_CLS, _MEAN, _LAST = PoolingMethod.CLS, PoolingMethod.MEAN, PoolingMethod.LAST_TOKEN

# (names, class, pooling, trust_remote_code, query_instruction_format), in the documented order
_Rows = List[Tuple[List[str], Type[AbsEmbedder], PoolingMethod, bool, str]]


def _mapping(rows: _Rows) -> "OrderedDict[str, EmbedderConfig]":
    """One registry table: every name of every row, in row order."""
    return OrderedDict(
        (name, EmbedderConfig(cls, pooling, trc, fmt)) for names, cls, pooling, trc, fmt in rows for name in names
    )


BGE_MAPPING = _mapping([
    (["bge-reasoner-embed-qwen3-8b-0923"], FlagLLMModel, _LAST, False, _F1),
    (["bge-code-v1"], FlagLLMModel, _LAST, True, _F2),
    (["bge-en-icl"], FlagICLModel, _LAST, False, _F2),
    (["bge-multilingual-gemma2"], FlagLLMModel, _LAST, False, _F2),
    (["bge-m3"], BGEM3FlagModel, _CLS, False, "{}{}"),
    (["bge-large-en-v1.5", "bge-base-en-v1.5", "bge-small-en-v1.5",
      "bge-large-zh-v1.5", "bge-base-zh-v1.5", "bge-small-zh-v1.5"], FlagModel, _CLS, False, "{}{}"),
    (["bge-large-en", "bge-base-en", "bge-small-en",
      "bge-large-zh", "bge-base-zh", "bge-small-zh"], FlagModel, _CLS, False, "{}{}"),
])
QWEN3_EMBEDDING_MAPPING = _mapping([
    (["Qwen3-Embedding-0.6B", "Qwen3-Embedding-4B", "Qwen3-Embedding-8B"], FlagLLMModel, _LAST, False, _F3),
])
E5_MAPPING = _mapping([
    (["e5-mistral-7b-instruct"], FlagLLMModel, _LAST, False, _F1),
    (["e5-large-v2", "e5-base-v2", "e5-small-v2"], FlagModel, _MEAN, False, "{}{}"),
    (["multilingual-e5-large-instruct"], FlagModel, _MEAN, False, _F1),
    (["multilingual-e5-large", "multilingual-e5-base", "multilingual-e5-small",
      "e5-large", "e5-base", "e5-small"], FlagModel, _MEAN, False, "{}{}"),
])
GTE_MAPPING = _mapping([
    (["gte-Qwen2-7B-instruct", "gte-Qwen2-1.5B-instruct", "gte-Qwen1.5-7B-instruct"], FlagLLMModel, _LAST, True, _F1),
    (["gte-multilingual-base", "gte-large-en-v1.5", "gte-base-en-v1.5"], FlagModel, _CLS, True, "{}{}"),
    (["gte-large", "gte-base", "gte-small"], FlagModel, _MEAN, False, "{}{}"),
    (["gte-large-zh", "gte-base-zh", "gte-small-zh"], FlagModel, _CLS, False, "{}{}"),
])
SFR_MAPPING = _mapping([(["SFR-Embedding-2_R", "SFR-Embedding-Mistral"], FlagLLMModel, _LAST, False, _F1)])
LINQ_MAPPING = _mapping([(["Linq-Embed-Mistral"], FlagLLMModel, _LAST, False, _F1)])
BCE_MAPPING = _mapping([(["bce-embedding-base_v1"], FlagModel, _CLS, False, "{}{}")])

# the per-family tables above, merged in the documented order
AUTO_EMBEDDER_MAPPING: "OrderedDict[str, EmbedderConfig]" = OrderedDict(
    item
    for family in (BGE_MAPPING, QWEN3_EMBEDDING_MAPPING, E5_MAPPING, GTE_MAPPING, SFR_MAPPING, LINQ_MAPPING,
                   BCE_MAPPING)
    for item in family.items()
)


def support_native_bge_model_list() -> List[str]:
    """The registered ``bge-*`` model names, in registry order."""
    return [name for name in AUTO_EMBEDDER_MAPPING if name.startswith("bge-")]


def support_model_list() -> List[str]:
    """Every registered model name."""
    return list(AUTO_EMBEDDER_MAPPING)
