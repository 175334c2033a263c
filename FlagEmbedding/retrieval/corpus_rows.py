"""Cached corpus rows of the model representations (dense, M3 sparse, M3 ColBERT), encoded in one pass.

Each representation has its own :class:`~FlagEmbedding.retrieval.embedding_cache.CorpusEmbeddingCache`
(dense: the evaluation's cache, keyed by :func:`embedder_fingerprint`; sparse and ColBERT add a
``representation`` key), and :func:`~FlagEmbedding.retrieval.embedding_cache.load_or_encode_together`
fills them: an M3 model encodes each shard once, asking ``encode_corpus`` for every representation still
missing in that shard (in distributed evaluations, each rank encodes its share of those shards the same way).
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from FlagEmbedding.retrieval.embedding_cache import (
    CorpusEmbeddingCache,
    SharedShardEncoder,
    embedder_fingerprint,
    load_or_encode_together,
)
from FlagEmbedding.retrieval import colbert as colbert_rows
from FlagEmbedding.retrieval import sparse as sparse_rows
from FlagEmbedding.retrieval.dense import dense_array

logger = logging.getLogger(__name__)

#: representations encoded by the model, in the order they are cached
ENCODED = ("dense", "sparse", "colbert")


def sparse_width(embedder: Any) -> int:
    """Lexical weights per sparse cache row: the passage token limit."""
    return int(embedder.passage_max_length)


def colbert_dim(embedder: Any) -> int:
    """Width of one ColBERT token vector."""
    return int(embedder.model.colbert_linear.out_features)


def fingerprint(embedder: Any, name: str, colbert_precision: str = "float16") -> Dict[str, Any]:
    """Cache fingerprint of representation ``name`` of ``embedder`` (dense: the evaluation cache's; ColBERT rows
    in another layout than the padded float16 one add their ``precision``)."""
    model = embedder_fingerprint(embedder)
    if name == "dense":
        return model
    if name == "sparse":
        return {**model, "representation": "sparse", "width": sparse_width(embedder)}
    extra = {} if colbert_precision == "float16" else {"precision": colbert_precision, "layout": "tokens"}
    return {**model, "representation": "colbert", **extra}


def encode_rows(embedder: Any, texts: List[str], names: Sequence[str], m3: bool,
                encode_kwargs: Mapping[str, Any], colbert_precision: str = "float16") -> Dict[str, np.ndarray]:
    """Cache rows of ``names`` for ``texts`` from one ``encode_corpus`` call (an M3 model is asked for exactly
    those outputs; any other embedder gives dense vectors; ColBERT rows in the layout of ``colbert_precision``,
    see :mod:`FlagEmbedding.retrieval.colbert`)."""
    if m3:
        output = embedder.encode_corpus(texts, return_dense="dense" in names, return_sparse="sparse" in names,
                                        return_colbert_vecs="colbert" in names, **encode_kwargs)
    else:
        output = embedder.encode_corpus(texts, **encode_kwargs)
    rows = {}
    if "dense" in names:
        rows["dense"] = dense_array(output)
    if "sparse" in names:
        rows["sparse"] = sparse_rows.padded_rows(sparse_rows.lexical_dicts(output), sparse_width(embedder))
    if "colbert" in names:
        vectors = colbert_rows.colbert_vectors(output)
        rows["colbert"] = (colbert_rows.padded_rows(vectors, colbert_dim(embedder)) if colbert_precision == "float16"
                           else colbert_rows.token_rows(vectors, colbert_dim(embedder), colbert_precision))
    return rows


def representation_caches(folder: str, docids: Sequence[str], texts: Sequence[str], embedder: Any,
                          names: Sequence[str], shard_rows: int,
                          colbert_precision: str = "float16") -> Dict[str, CorpusEmbeddingCache]:
    """The caches of the model representations among ``names`` under ``folder`` (in :data:`ENCODED` order)."""
    caches = {}
    for name in ENCODED:
        if name not in names:
            continue
        args = (folder, fingerprint(embedder, name, colbert_precision), docids, texts)
        caches[name] = (colbert_rows.TokenShardCache(*args, shard_rows=shard_rows, dim=colbert_dim(embedder),
                                                     precision=colbert_precision)
                        if name == "colbert" and colbert_precision != "float16"
                        else CorpusEmbeddingCache(*args, shard_rows=shard_rows))
    return caches


def shard_encoder(embedder: Any, m3: bool, encode_kwargs: Mapping[str, Any],
                  colbert_precision: str = "float16") -> SharedShardEncoder:
    """``(texts, names) -> rows`` of :func:`encode_rows` for the shared-pass cache functions."""
    return lambda texts, names: encode_rows(embedder, texts, names, m3, encode_kwargs, colbert_precision)


def load_or_encode_rows(folder: str, docids: Sequence[str], texts: Sequence[str], embedder: Any,
                        names: Sequence[str], m3: bool, shard_rows: int, overwrite: bool,
                        encode_kwargs: Mapping[str, Any], colbert_precision: str = "float16",
                        ) -> Dict[str, Tuple[CorpusEmbeddingCache, List[np.ndarray]]]:
    """``{name: (cache, memory-mapped shards)}`` of representations ``names`` under ``folder`` (shards missing
    anywhere are encoded once for all representations lacking them)."""
    caches = representation_caches(folder, docids, texts, embedder, names, shard_rows, colbert_precision)
    if not caches:
        return {}
    if "colbert" in caches and colbert_precision != "float16" and not overwrite:
        padded = representation_caches(folder, docids, texts, embedder, ["colbert"], shard_rows)["colbert"]
        convert_padded_shards(padded, caches["colbert"], colbert_dim(embedder), colbert_precision)
    blocks = load_or_encode_together(caches, shard_encoder(embedder, m3, encode_kwargs, colbert_precision),
                                     overwrite=overwrite)
    return {name: (cache, blocks[name]) for name, cache in caches.items()}


def convert_padded_shards(padded: CorpusEmbeddingCache, tokens: CorpusEmbeddingCache, dim: int,
                          precision: str) -> List[int]:
    """Fill the shards that the unpadded ColBERT cache ``tokens`` lacks from the valid shards of the padded
    float16 cache ``padded`` of the same corpus (an existing store is converted instead of re-encoded; the
    padded cache is only read). Returns the shards converted."""
    source = padded.read_manifest() if os.path.isdir(padded.path) else None
    if source is None:
        return []
    records = tokens.prepare()
    converted = []
    for shard in range(tokens.num_shards):
        if tokens.reuse_shard(shard, records) or not padded.valid_shard(shard, source["shards"].get(str(shard))):
            continue
        rows = np.load(padded.shard_path(shard), mmap_mode="r")
        vectors = [row.reshape(-1, dim)[np.any(row.reshape(-1, dim) != 0, axis=1)] for row in rows]
        tokens.store_shard(shard, colbert_rows.token_rows(vectors, dim, precision), records)
        converted.append(shard)
    if converted:
        logger.info("Converted %d padded float16 ColBERT shards of %s to %s in %s.", len(converted), padded.path,
                    precision, tokens.path)
    return converted
