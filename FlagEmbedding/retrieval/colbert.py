"""M3 multi-vector (ColBERT) token vectors: fixed-width fp16 cache rows and late-interaction scoring.

One cache row holds a passage's token vectors (``colbert_vecs``, after CLS) flattened and zero-padded to the
longest passage of its shard, in float16; cache shards are memory-mapped, so only the candidates being
scored are read. Padding rows are all-zero (a real token vector is L2-normalized) and are excluded from the
max, so a score equals ``BGEM3FlagModel.colbert_score`` on the unpadded vectors.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Sequence

import numpy as np

from FlagEmbedding.retrieval.dense import RowBlocks
from FlagEmbedding.utils.errors import InputError

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
