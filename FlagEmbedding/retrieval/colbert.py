"""M3 multi-vector (ColBERT) token vectors: cache rows and late-interaction scoring.

Two layouts (``colbert_precision``):

* ``float16`` (the layout of earlier releases, whose caches stay valid): one cache row holds a passage's token
  vectors (``colbert_vecs``, after CLS) flattened and zero-padded to the longest passage of its shard, in
  float16; cache shards are memory-mapped, so only the candidates being scored are read. Padding rows are
  all-zero (a real token vector is L2-normalized) and are excluded from the max, so a score equals
  ``BGEM3FlagModel.colbert_score`` on the unpadded vectors.
* ``int8`` / ``int4`` (unpadded): a cache shard is one int8 matrix with a line per token, in passage order:
  the token's codes (``x ~= scale * q``, see :func:`~FlagEmbedding.utils.quantization.quantize_tokens`; ``dim``
  bytes for int8, ``ceil(dim / 2)`` for int4), then the 4 bytes of its float32 ``scale`` and the 4 bytes of its
  passage's row in the shard (int32). A passage without tokens gets one all-zero line (scale 0), so every row is
  present and its score is 0 as in the padded layout. :class:`TokenShardCache` checks that layout and
  :class:`TokenColbertStore` scores it.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, List, Sequence

import numpy as np

from FlagEmbedding.retrieval.dense import RowBlocks
from FlagEmbedding.retrieval.embedding_cache import CorpusEmbeddingCache
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.quantization import dequantize_tokens, quantize_tokens, token_code_width

#: Stored values scored in one step (bounds the float32 working copy of the candidates to 64 MiB).
SCORE_CHUNK_VALUES = 1 << 24


def padded_rows(vectors: Sequence[np.ndarray], dim: int) -> np.ndarray:
    """float16 rows of ``max_tokens * dim`` values: each passage's ``[tokens, dim]`` vectors, zero-padded."""
    longest = max((len(v) for v in vectors), default=0)
    out = np.zeros((len(vectors), max(1, longest) * dim), dtype=np.float16)
    for row, vecs in enumerate(vectors):
        vecs = np.asarray(vecs, dtype=np.float32)
        if vecs.size and vecs.shape[1] != dim:
            raise ValueError(f"ColBERT vectors have width {vecs.shape[1]}, expected {dim}.")
        out[row, :vecs.size] = vecs.ravel()
    return out


def colbert_vectors(output: object) -> List[np.ndarray]:
    """The ``colbert_vecs`` of an M3 encode output (a list of ``[tokens, dim]`` arrays)."""
    vecs = output.get("colbert_vecs") if isinstance(output, dict) else None
    if vecs is None:
        raise InputError("The embedder returned no ColBERT vectors: colbert search needs an M3 model (BGEM3FlagModel).")
    return list(vecs)


class ColbertStore:
    """Late-interaction scores of queries against stored passage token vectors.

    Args:
        blocks: Padded rows (see :func:`padded_rows`), in corpus order.
        dim: Width of one token vector.
    """

    def __init__(self, blocks: Sequence[np.ndarray], dim: int):
        self.rows = RowBlocks(blocks)
        self.dim = dim

    @property
    def ntotal(self) -> int:
        """Number of passages."""
        return self.rows.ntotal

    def score(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """``mean_i max_j q_i . p_j`` of one query's ``[tokens, dim]`` vectors with passages ``rows`` (0 for a
        passage without tokens); passages of one row width are scored together, in bounded chunks."""
        query = np.asarray(query, dtype=np.float32)
        out = np.zeros(len(rows), dtype=np.float32)
        if len(query) == 0 or len(rows) == 0:
            return out
        taken = self.rows.take(rows)
        by_width: Dict[int, List[int]] = defaultdict(list)
        for position, row in enumerate(taken):
            by_width[row.shape[0]].append(position)
        for width, positions in by_width.items():
            step = max(1, SCORE_CHUNK_VALUES // width)
            for start in range(0, len(positions), step):
                chunk = positions[start:start + step]
                passages = np.stack([taken[p] for p in chunk]).astype(np.float32).reshape(len(chunk), -1, self.dim)
                real = np.any(passages != 0, axis=2)  # padding token rows are all-zero
                # one 2-D GEMM (numpy's batched 3-D matmul is ~40x slower here): [passages, tokens, query tokens]
                sims = (passages.reshape(-1, self.dim) @ query.T).reshape(len(chunk), -1, len(query))
                sims[~real] = -np.inf
                best = sims.max(axis=1).sum(axis=1) / len(query)
                out[chunk] = np.where(real.any(axis=1), best, 0.0)
        return out


#: bytes after a token's codes in the unpadded layout: its float32 scale and its int32 passage row
TOKEN_META_BYTES = 8


def token_rows(vectors: Sequence[np.ndarray], dim: int, precision: str) -> np.ndarray:
    """The unpadded ``int8`` / ``int4`` shard of passages ``vectors`` (each ``[tokens, dim]``; see the module
    doc)."""
    width = token_code_width(dim, precision)
    lines = []
    for row, vecs in enumerate(vectors):
        vecs = np.asarray(vecs, dtype=np.float32)
        if vecs.size and vecs.shape[1] != dim:
            raise ValueError(f"ColBERT vectors have width {vecs.shape[1]}, expected {dim}.")
        vecs = vecs.reshape(-1, dim) if vecs.size else np.zeros((1, dim), dtype=np.float32)
        codes, scales = quantize_tokens(vecs, precision)
        meta = np.stack([scales.astype(np.float32).view(np.int32), np.full(len(vecs), row, dtype=np.int32)], 1)
        lines.append(np.concatenate([codes.reshape(len(vecs), width), meta.view(np.int8)], axis=1))
    return np.concatenate(lines) if lines else np.zeros((0, width + TOKEN_META_BYTES), dtype=np.int8)


def _passage_rows(block: np.ndarray) -> np.ndarray:
    """The int32 passage row of each line of an unpadded shard."""
    return np.ascontiguousarray(block[:, -4:]).view(np.int32).ravel()


class TokenShardCache(CorpusEmbeddingCache):
    """The corpus cache of unpadded ColBERT shards (see the module doc): a shard is valid when its lines have
    the width of ``dim`` at ``precision`` and name every passage row of the shard, in order."""

    def __init__(self, folder: str, model_fingerprint: Dict[str, Any], docids: Sequence[str], texts: Sequence[str],
                 shard_rows: int = 100_000, *, dim: int, precision: str):
        super().__init__(folder, model_fingerprint, docids, texts, shard_rows=shard_rows)
        self.width = token_code_width(dim, precision) + TOKEN_META_BYTES

    def shape_ok(self, array: np.ndarray, rows: int) -> bool:
        """Lines of the right width whose passage rows run through ``0 .. rows - 1`` without a gap."""
        if array.ndim != 2 or array.dtype != np.int8 or array.shape[1] != self.width:
            return False
        passage = _passage_rows(array)
        steps = np.diff(passage)
        return bool(len(passage) >= rows and (rows == 0 or (passage[0] == 0 and passage[-1] == rows - 1))
                    and np.all((steps == 0) | (steps == 1)))


class TokenColbertStore:
    """:class:`ColbertStore` over unpadded ``int8`` / ``int4`` shards (see the module doc): each candidate's
    token codes are read, dequantized and scored; the score is ``mean_i max_j q_i . p_j``.

    Args:
        blocks: Unpadded shards, in corpus order.
        dim: Width of one token vector.
        precision: ``int8`` or ``int4``.
    """

    def __init__(self, blocks: Sequence[np.ndarray], dim: int, precision: str):
        self.dim, self.precision = dim, precision
        self.width = token_code_width(dim, precision)
        self.blocks = list(blocks)
        self.offsets = []
        for block in self.blocks:
            passage = _passage_rows(block)
            count = int(passage[-1]) + 1 if len(passage) else 0
            self.offsets.append(np.searchsorted(passage, np.arange(count + 1)))
        self.starts = np.cumsum([0] + [len(offsets) - 1 for offsets in self.offsets])

    @property
    def ntotal(self) -> int:
        """Number of passages."""
        return int(self.starts[-1])

    def tokens(self, row: int) -> np.ndarray:
        """The int8 lines of corpus row ``row``."""
        if not 0 <= row < self.ntotal:
            raise IndexError(f"Row indices must lie in [0, {self.ntotal}).")
        block = int(np.searchsorted(self.starts, row, side="right") - 1)
        local = row - int(self.starts[block])
        return self.blocks[block][self.offsets[block][local]:self.offsets[block][local + 1]]

    def score(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Late-interaction scores of one query's ``[tokens, dim]`` vectors with passages ``rows`` (0 for a
        passage without tokens), in chunks of at most :data:`SCORE_CHUNK_VALUES` dequantized values."""
        query = np.asarray(query, dtype=np.float32)
        out = np.zeros(len(rows), dtype=np.float32)
        if len(query) == 0 or len(rows) == 0:
            return out
        lines = [self.tokens(int(row)) for row in rows]
        step_tokens = max(1, SCORE_CHUNK_VALUES // self.dim)
        start = 0
        while start < len(rows):
            end, tokens = start, 0
            while end < len(rows) and (end == start or tokens + len(lines[end]) <= step_tokens):
                tokens += len(lines[end])
                end += 1
            chunk = np.concatenate(lines[start:end])
            scales = np.ascontiguousarray(chunk[:, self.width:self.width + 4]).view(np.float32).ravel()
            vectors = dequantize_tokens(np.ascontiguousarray(chunk[:, :self.width]), scales, self.precision, self.dim)
            sims = vectors @ query.T
            firsts = np.cumsum([0] + [len(line) for line in lines[start:end - 1]])
            out[start:end] = np.maximum.reduceat(sims, firsts, axis=0).sum(axis=1) / len(query)
            start = end
        return out
