"""Exact inner-product top-k search in query batches against corpus chunks (torch; GPU when available)."""
from __future__ import annotations

from typing import Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from FlagEmbedding.utils.errors import InputError


class EmbeddingIndex:
    """Exact inner-product index over row blocks (e.g. memory-mapped cache shards).

    No block is copied as a whole: :func:`search` reads ``chunk_rows`` rows at a time and converts only
    those to float32.
    """

    def __init__(self, blocks: Sequence[np.ndarray], chunk_rows: int = 32768):
        self.blocks = [block for block in blocks if block.shape[0] > 0]
        dims = {block.shape[1] for block in self.blocks}
        if len(dims) > 1:
            raise ValueError(f"Embedding blocks have different widths: {sorted(dims)}.")
        self.dim = dims.pop() if dims else 0
        self.ntotal = sum(block.shape[0] for block in self.blocks)
        self.chunk_rows = chunk_rows

    def chunks(self) -> Iterable[Tuple[int, np.ndarray]]:
        """Yield ``(first_row, rows)`` slices of at most ``chunk_rows`` rows, in corpus order."""
        offset = 0
        for block in self.blocks:
            for start in range(0, block.shape[0], self.chunk_rows):
                yield offset + start, block[start:start + self.chunk_rows]
            offset += block.shape[0]


def index(corpus_embeddings: Union[np.ndarray, Sequence[np.ndarray]], chunk_rows: int = 32768) -> EmbeddingIndex:
    """Build an :class:`EmbeddingIndex` over one matrix or a list of row blocks (shards)."""
    blocks = [corpus_embeddings] if isinstance(corpus_embeddings, np.ndarray) else list(corpus_embeddings)
    return EmbeddingIndex(blocks, chunk_rows=chunk_rows)


def _search_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@torch.inference_mode()
def search(
    embedding_index: EmbeddingIndex,
    k: int,
    query_embeddings: np.ndarray,
    batch_size: int = 1024,
    device: Optional[str] = None,
) -> Tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` inner-product search, in query batches against corpus chunks.

    Returns ``(scores, indices)`` of shape ``(n_queries, min(k, ntotal))`` sorted by descending score
    (ties: lower corpus row first), computed in float32. Query embeddings of another width than the corpus's
    raise :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``).
    """
    device = device or _search_device()
    k = min(k, embedding_index.ntotal)
    n_queries = query_embeddings.shape[0]
    all_scores = np.zeros((n_queries, k), dtype=np.float32)
    all_indices = np.zeros((n_queries, k), dtype=np.int64)
    if k == 0 or n_queries == 0:
        return all_scores, all_indices
    if query_embeddings.shape[1] != embedding_index.dim:
        raise InputError(
            f"Query embeddings have width {query_embeddings.shape[1]} but the corpus embeddings have "
            f"width {embedding_index.dim}."
        )
    for start in range(0, n_queries, batch_size):
        queries = torch.from_numpy(np.ascontiguousarray(query_embeddings[start:start + batch_size], dtype=np.float32))
        queries = queries.to(device)
        best_scores = torch.full((queries.shape[0], 0), float("-inf"), device=device)
        best_indices = torch.zeros((queries.shape[0], 0), dtype=torch.long, device=device)
        for first_row, rows in embedding_index.chunks():
            chunk = torch.from_numpy(np.array(rows, dtype=np.float32)).to(device)  # a copy: rows may be a read-only memmap
            scores = queries @ chunk.T
            top = min(k, scores.shape[1])
            chunk_scores, chunk_indices = torch.topk(scores, top, dim=1)
            merged_scores = torch.cat([best_scores, chunk_scores], dim=1)
            merged_indices = torch.cat([best_indices, chunk_indices + first_row], dim=1)
            keep = min(k, merged_scores.shape[1])
            best_scores, order = torch.topk(merged_scores, keep, dim=1)
            best_indices = torch.gather(merged_indices, 1, order)
        scores_np = best_scores.float().cpu().numpy()
        indices_np = best_indices.cpu().numpy()
        rank = np.lexsort((indices_np, -scores_np), axis=1)
        all_scores[start:start + len(scores_np)] = np.take_along_axis(scores_np, rank, axis=1)
        all_indices[start:start + len(scores_np)] = np.take_along_axis(indices_np, rank, axis=1)
    return all_scores, all_indices
