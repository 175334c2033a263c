"""M3 lexical (sparse) weights: fixed-width cache rows, a CSR inverted index and exact search.

An M3 passage has at most ``passage_max_length`` lexical weights, so one cache row holds ``width`` token ids
followed by ``width`` weights (unused slots: id ``-1``, weight 0); float32 represents every token id below
2**24 exactly. The index is a ``scipy.sparse`` CSR matrix (documents x vocabulary); a query's scores are one
sparse matrix product, so only documents sharing a token with the query are scored (an exact inverted-index
search: a document sharing no token scores 0 and is not returned).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

from FlagEmbedding.utils.errors import InputError

if TYPE_CHECKING:
    from scipy import sparse as sp


def padded_rows(weights: Sequence[Mapping[str, float]], width: int) -> np.ndarray:
    """``[ids..., weights...]`` rows (float32, ``2 * width`` wide) of M3 ``lexical_weights`` dicts."""
    out = np.zeros((len(weights), 2 * width), dtype=np.float32)
    out[:, :width] = -1
    for row, item in enumerate(weights):
        if len(item) > width:
            raise ValueError(f"A passage has {len(item)} lexical weights, more than the cache width {width}.")
        ids = np.fromiter((int(token) for token in item), dtype=np.int64, count=len(item))
        if ids.size and ids.max() >= 1 << 24:
            raise ValueError(f"Token id {int(ids.max())} is too large for the sparse cache (at most 2**24 - 1).")
        out[row, :len(item)] = ids
        out[row, width:width + len(item)] = np.fromiter(item.values(), dtype=np.float32, count=len(item))
    return out


def csr_from_dicts(weights: Sequence[Mapping[str, float]], vocab_size: int) -> sp.csr_matrix:
    """``len(weights) x vocab_size`` CSR matrix of lexical-weight dicts (token-id string -> weight)."""
    from scipy import sparse as sp

    indptr = [0]
    indices: List[int] = []
    data: List[float] = []
    for item in weights:
        for token, weight in item.items():
            if 0 <= int(token) < vocab_size:
                indices.append(int(token))
                data.append(float(weight))
        indptr.append(len(indices))
    return sp.csr_matrix((np.asarray(data, dtype=np.float32), np.asarray(indices, dtype=np.int64), indptr),
                         shape=(len(weights), vocab_size))


def csr_from_padded(blocks: Sequence[np.ndarray], vocab_size: int) -> sp.csr_matrix:
    """The documents x vocabulary CSR matrix of padded cache rows (see :func:`padded_rows`)."""
    from scipy import sparse as sp

    parts = []
    for block in blocks:
        width = block.shape[1] // 2
        ids = np.asarray(block[:, :width])
        weights = np.asarray(block[:, width:], dtype=np.float32)
        used = ids >= 0
        rows = np.nonzero(used)[0]
        parts.append(sp.csr_matrix((weights[used], (rows, ids[used].astype(np.int64))),
                                   shape=(block.shape[0], vocab_size)))
    if not parts:
        return sp.csr_matrix((0, vocab_size), dtype=np.float32)
    return sp.vstack(parts, format="csr")


def top_k_rows(scores: sp.csr_matrix, k: int) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """Per row of a sparse score matrix: its ``k`` largest stored entries as ``(scores, columns)``, best first
    (ties: lower column first); entries that are not positive are dropped."""
    out_scores, out_cols = [], []
    for row in range(scores.shape[0]):
        start, end = scores.indptr[row], scores.indptr[row + 1]
        values, cols = scores.data[start:end], scores.indices[start:end]
        keep = values > 0
        values, cols = values[keep], cols[keep]
        order = np.lexsort((cols, -values))[:k]
        out_scores.append(values[order].astype(np.float32))
        out_cols.append(cols[order].astype(np.int64))
    return out_scores, out_cols


class SparseIndex:
    """Exact sparse inner-product search over a documents x vocabulary CSR matrix.

    Args:
        matrix: The documents' lexical weights (see :func:`csr_from_padded`).
        query_batch: Queries scored per sparse product (bounds memory).
    """

    def __init__(self, matrix: sp.csr_matrix, query_batch: int = 256):
        self.matrix = matrix.tocsr()
        self.matrix_t = self.matrix.T.tocsr()
        self.vocab_size = matrix.shape[1]
        self.query_batch = query_batch

    @property
    def ntotal(self) -> int:
        """Number of documents."""
        return self.matrix.shape[0]

    def queries(self, weights: Sequence[Mapping[str, float]]) -> sp.csr_matrix:
        """Query lexical-weight dicts as a CSR matrix over this index's vocabulary."""
        return csr_from_dicts(weights, self.vocab_size)

    def search(self, queries: sp.csr_matrix, k: int) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Per query, ``(scores, rows)`` of its ``k`` best documents with a positive score, best first."""
        all_scores: List[np.ndarray] = []
        all_rows: List[np.ndarray] = []
        for start in range(0, queries.shape[0], self.query_batch):
            scores, rows = top_k_rows((queries[start:start + self.query_batch] @ self.matrix_t).tocsr(), k)
            all_scores.extend(scores)
            all_rows.extend(rows)
        return all_scores, all_rows

    def score(self, query: sp.csr_matrix, rows: Sequence[int]) -> np.ndarray:
        """Exact sparse dot products of one query (a 1-row CSR matrix) with documents ``rows``."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.asarray((self.matrix[np.asarray(rows)] @ query.T).toarray()).ravel().astype(np.float32)


def lexical_dicts(output: Mapping[str, Any]) -> List[Mapping[str, float]]:
    """The ``lexical_weights`` of an M3 encode output (a list of dicts)."""
    weights = output.get("lexical_weights") if isinstance(output, dict) else None
    if weights is None:
        raise InputError("The embedder returned no lexical weights: sparse search needs an M3 model (BGEM3FlagModel).")
    return list(weights)
