"""The served models: thin adapters from the library's embedders / rerankers to what the routes and the
batcher need (token counts for usage and budgets, one batched model call, the served id)."""
from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, Hashable, List, Literal, Optional, Tuple, TypeVar, Union

import numpy as np

from FlagEmbedding.abc.inference.reranker import AbsReranker
from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder
from FlagEmbedding.inference.embedder.encoder_only.m3 import M3Embedder
from FlagEmbedding.inference.registry import registry_name
from FlagEmbedding.utils import long_text
from FlagEmbedding.utils.typing import EmbedderOutput

if TYPE_CHECKING:
    from typing_extensions import TypeIs

#: batch key of an embeddings call: (input_type, return_sparse, return_colbert)
EmbedKey = Tuple[Optional[str], bool, bool]
#: what /v1/models reports as a model's ``task`` (also the key of its batcher)
Task = Literal["embedding", "rerank"]

KeyT = TypeVar("KeyT", bound=Hashable)
ItemT = TypeVar("ItemT")
ResultT = TypeVar("ResultT")


@dataclass
class EmbeddingOutput:
    """One text's outputs: the dense vector, and for M3 the lexical weights / ColBERT vectors if asked."""

    dense: np.ndarray
    lexical_weights: Optional[Dict[str, float]] = None
    colbert: Optional[np.ndarray] = None


class ServedModel(Generic[KeyT, ItemT, ResultT]):
    """A model served under ``model_id`` (default: its folder name); ``aliases`` (the id and the path it was
    loaded from) are the names requests may give as ``model``. Its batches are lists of ``ItemT`` sharing a
    ``KeyT``; each item gets one ``ResultT``."""

    #: what /v1/models reports and the batcher key of the service (set by each subclass)
    task: Task

    def __init__(self, model: Any, model_id: Optional[str] = None):
        self.model = model
        self.model_id = model_id or registry_name(model.model_name_or_path)
        self.aliases = {self.model_id, model.model_name_or_path}
        # Requests are tokenized (usage, batch budgets) in request threads while the batcher thread encodes, and
        # a fast tokenizer must not be used by two threads at once ("Already borrowed"): counting goes through a
        # shallow twin of the model (same weights, no worker pool) with its own tokenizer, one call at a time.
        self.counter = copy.copy(model)
        self.counter.tokenizer = copy.deepcopy(model.tokenizer)
        self.count_lock = threading.Lock()

    def run(self, key: KeyT, items: List[ItemT]) -> List[ResultT]:
        """One batched model call (in the batcher's thread): one result per item."""
        raise NotImplementedError


class EmbedderService(ServedModel[EmbedKey, str, EmbeddingOutput]):
    """An embedder: ``encode`` / ``encode_queries`` / ``encode_corpus`` by ``input_type``."""

    task: Task = "embedding"
    #: every embedder of the library (``FlagAutoModel`` loads one) derives from the encoder-only base
    model: BaseEmbedder

    @property
    def supports_m3_outputs(self) -> bool:
        """Whether the model has BGE-M3's sparse and ColBERT heads."""
        return isinstance(self.model, M3Embedder)

    @property
    def dimension(self) -> int:
        """Width of the dense vectors."""
        return self.model.embedding_dim

    def model_inputs(self, texts: List[str], input_type: Optional[str]) -> Tuple[List[str], int]:
        """The texts as the encode path formats them (instruction applied) and their token limit."""
        embedder = self.model
        if input_type == "query":
            instruction, fmt = embedder.query_instruction_for_retrieval, embedder.query_instruction_format
            max_length = embedder.query_max_length
        else:
            instruction, fmt = None, "{}{}"
            if input_type == "passage":
                instruction = embedder.kwargs.get("passage_instruction_for_retrieval")
                fmt = embedder.kwargs.get("passage_instruction_format", "{}{}")
            max_length = embedder.passage_max_length
        if instruction is not None:
            texts = [embedder.get_detailed_instruct(fmt, instruction, text) for text in texts]
        return texts, max_length

    def count_tokens(self, texts: List[str], input_type: Optional[str]) -> List[int]:
        """Tokens the model reads per text (special tokens and instruction included, after truncation)."""
        formatted, max_length = self.model_inputs(texts, input_type)
        # queries are truncated (encode_queries' rule); a long-text strategy counts the tokens of every window
        options = self.counter.long_text_options({"long_text_strategy": "truncate"} if input_type == "query" else {})
        with self.count_lock:
            features = self.counter.tokenize_inputs(formatted, max_length, options)
        owners = long_text.pop_owners(features)
        return long_text.counts_per_input([len(ids) for ids in features["input_ids"]], owners, len(texts))

    def run(self, key: EmbedKey, texts: List[str]) -> List[EmbeddingOutput]:
        """One batched call of ``encode`` / ``encode_queries`` / ``encode_corpus`` (by ``input_type``)."""
        input_type, sparse, colbert = key
        embedder = self.model
        encoders: Dict[Optional[str], Callable[..., EmbedderOutput]] = {
            None: embedder.encode, "query": embedder.encode_queries, "passage": embedder.encode_corpus}
        encode = encoders[input_type]
        # a list of texts with convert_to_numpy=True: an (n, dim) array; for M3 an M3Output holding it, with a list
        # of weight dicts / of (tokens, dim) arrays per output asked for
        if not self.supports_m3_outputs:
            dense = encode(texts, convert_to_numpy=True)
            assert isinstance(dense, np.ndarray)
            return [EmbeddingOutput(row) for row in dense]
        out = encode(texts, convert_to_numpy=True, return_dense=True, return_sparse=sparse, return_colbert_vecs=colbert)
        assert isinstance(out, dict)
        vectors = out["dense_vecs"]
        weights = out["lexical_weights"] if sparse else None
        colbert_vecs = out["colbert_vecs"] if colbert else None
        assert isinstance(vectors, np.ndarray)
        assert weights is None or isinstance(weights, list)
        assert colbert_vecs is None or isinstance(colbert_vecs, list)
        return [
            EmbeddingOutput(vectors[i],
                            weights[i] if weights is not None else None,
                            colbert_vecs[i] if colbert_vecs is not None else None)
            for i in range(len(texts))
        ]

    def tokens_of(self, token_ids: List[int]) -> List[str]:
        """Vocabulary strings of ``token_ids``."""
        return self.model.tokenizer.convert_ids_to_tokens(token_ids)


def _per_layer(scores: Union[List[float], List[List[float]]]) -> TypeIs[List[List[float]]]:
    """Whether ``compute_score`` gave one score list per layer (a layer-wise reranker), not one score per pair."""
    return bool(scores) and isinstance(scores[0], list)


class RerankerService(ServedModel[str, List[str], float]):
    """A reranker; scores are ``compute_score(pairs, normalize=True)``."""

    task: Task = "rerank"
    model: AbsReranker

    def count_tokens(self, pairs: List[List[str]]) -> List[int]:
        """Tokens of each assembled pair, as the reranker builds it (instructions, truncation, special tokens)."""
        reranker = self.counter
        lengths = reranker.resolve_lengths(None, None, None)
        options = {**reranker.resolve_options({}),
                   **long_text.call_options({}, reranker, long_text.RERANKER_STRATEGIES)}
        with self.count_lock:
            features, counts = reranker.prepare_features(
                reranker.get_detailed_inputs(pairs), lengths["query_max_length"], lengths["max_length"], options, {})
        return long_text.counts_per_input(counts, long_text.pop_owners(features), len(pairs))  # maxp: every window

    def run(self, key: str, pairs: List[List[str]]) -> List[float]:
        """Normalized scores of ``pairs`` (a layer-wise model: its last requested layer)."""
        scores = self.model.compute_score(pairs, normalize=True)
        assert isinstance(scores, list)  # a list of pairs (never a single pair) gets a list
        return scores[-1] if _per_layer(scores) else scores


@dataclass
class Services:
    """What the server hosts (at least one of the two)."""

    embedder: Optional[EmbedderService] = None
    reranker: Optional[RerankerService] = None

    def all(self) -> List[ServedModel[Any, Any, Any]]:
        """The hosted services, embedder first."""
        return [service for service in (self.embedder, self.reranker) if service is not None]


def load_services(embedder: Optional[str], embedder_kwargs: Dict[str, Any], reranker: Optional[str],
                  reranker_kwargs: Dict[str, Any]) -> Services:
    """Load the models with ``FlagAutoModel`` / ``FlagAutoReranker`` (keyword arguments passed unchanged)."""
    from FlagEmbedding.inference.auto_embedder import FlagAutoModel
    from FlagEmbedding.inference.auto_reranker import FlagAutoReranker

    return Services(
        embedder=EmbedderService(FlagAutoModel.from_finetuned(embedder, **embedder_kwargs)) if embedder else None,
        reranker=RerankerService(FlagAutoReranker.from_finetuned(reranker, **reranker_kwargs)) if reranker else None,
    )
