"""Dense vectors: extraction from encode outputs, row blocks, and exact (or faiss) inner-product search.

This is the one dense search of the package: evaluation, :class:`~FlagEmbedding.retrieval.RetrievalIndex` and
``scripts/hn_mine.py`` all use :class:`DenseIndex`. Exact search (the default) streams the row blocks (e.g.
memory-mapped cache shards) chunk by chunk and merges the per-chunk top-k exactly, so the corpus never has to
fit in RAM; a faiss index factory string (``"IVF256,Flat"``, ``"HNSW32"``, ``"IVF256,PQ32"``...) trades exactness
for speed and is built from the same blocks, one block at a time.
"""
from __future__ import annotations

import hashlib
import logging
import os
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from FlagEmbedding.retrieval.exact_search import index as exact_index, search as exact_search
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write
from FlagEmbedding.utils.progress import stage_bar

logger = logging.getLogger(__name__)

#: rows used to train a faiss index that needs training (IVF centroids, PQ codebooks)
FAISS_TRAIN_ROWS = 100_000


def dense_array(output: Any) -> np.ndarray:
    """The dense vectors of an encode call (``dense_vecs`` of M3 dict outputs) as a float32 numpy array."""
    if isinstance(output, dict):
        output = output["dense_vecs"]
    if hasattr(output, "detach"):
        output = output.detach().float().cpu().numpy()
    return np.asarray(output, dtype=np.float32)


class RowBlocks:
    """A matrix stored as row blocks (e.g. memory-mapped shards) with row gathering across blocks."""

    def __init__(self, blocks: Sequence[np.ndarray]):
        self.blocks = [block for block in blocks if block.shape[0] > 0]
        self.starts = np.cumsum([0] + [block.shape[0] for block in self.blocks])
        self.ntotal = int(self.starts[-1])

    def take(self, rows: Sequence[int]) -> List[np.ndarray]:
        """Rows ``rows`` (corpus order indices), each as its block's row (blocks may differ in width)."""
        row_array = np.asarray(rows, dtype=np.int64)
        if row_array.size and (row_array.min() < 0 or row_array.max() >= self.ntotal):
            raise IndexError(f"Row indices must lie in [0, {self.ntotal}).")
        which = np.searchsorted(self.starts, row_array, side="right") - 1
        return [self.blocks[b][r - self.starts[b]] for b, r in zip(which.tolist(), row_array.tolist())]


class DenseIndex:
    """Inner-product search over dense row blocks.

    Args:
        blocks: Corpus vectors as row blocks, in corpus order.
        faiss_factory: ``None`` or ``"Flat"`` for exact search; else a faiss index factory string.
        faiss_path: Where the built faiss index is saved and reloaded from (atomic; optional).
        nprobe: ``nprobe`` of IVF faiss indexes (ignored otherwise).
        reuse_saved: Load the faiss index saved at ``faiss_path`` if there is one (``False``: build it again and
            replace the file; the caller decides, e.g. when the file fails its checksum).
    """

    def __init__(self, blocks: Sequence[np.ndarray], faiss_factory: Optional[str] = None,
                 faiss_path: Optional[str] = None, nprobe: int = 8, reuse_saved: bool = True):
        self.rows = RowBlocks(blocks)
        self.exact = exact_index(self.rows.blocks)
        self.faiss_factory = None if faiss_factory in (None, "", "Flat") else faiss_factory
        self.faiss = self._load_or_build_faiss(faiss_path, nprobe, reuse_saved) if self.faiss_factory else None

    @property
    def ntotal(self) -> int:
        """Number of corpus rows."""
        return self.rows.ntotal

    @staticmethod
    def faiss_file_name(factory: str) -> str:
        """File name of a saved faiss index for ``factory`` (keyed by the factory string)."""
        return f"faiss-{hashlib.sha256(factory.encode('utf-8')).hexdigest()[:12]}.index"

    def _load_or_build_faiss(self, path: Optional[str], nprobe: int, reuse_saved: bool) -> Any:
        import faiss

        if path is not None and reuse_saved and os.path.exists(path):
            index = faiss.deserialize_index(np.fromfile(path, dtype=np.uint8))
            if index.ntotal != self.ntotal or index.d != self.exact.dim:
                raise InputError(f"{path}: the saved faiss index holds {index.ntotal} vectors of width {index.d}, "
                                 f"the corpus {self.ntotal} of width {self.exact.dim}; delete it to rebuild.")
        else:
            assert self.faiss_factory is not None  # only called for a faiss index
            index = faiss.index_factory(self.exact.dim, self.faiss_factory, faiss.METRIC_INNER_PRODUCT)
            with stage_bar(self.ntotal, f"Building faiss {self.faiss_factory}", unit="doc") as bar:
                if not index.is_trained:
                    step = max(1, self.ntotal // FAISS_TRAIN_ROWS)
                    sample = np.stack(self.rows.take(range(0, self.ntotal, step))).astype(np.float32)
                    index.train(sample)
                for first_row, chunk in self.exact.chunks():
                    chunk = np.ascontiguousarray(chunk, dtype=np.float32)
                    if hasattr(index, "id_map"):  # IDMap factories: ids are corpus rows
                        index.add_with_ids(chunk, np.arange(first_row, first_row + len(chunk), dtype=np.int64))
                    else:
                        index.add(chunk)
                    bar.update(len(chunk))
            if path is not None:
                data = faiss.serialize_index(index)
                atomic_write(path, lambda f: f.write(data.tobytes()), mode="wb")
        if hasattr(index, "nprobe"):
            index.nprobe = nprobe
        return index

    def search(self, queries: np.ndarray, k: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)`` of the top ``k`` rows per query, best first (exact ties: lower row first)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.faiss is None:
            return exact_search(self.exact, k, queries)
        k = min(k, self.ntotal)
        scores, rows = self.faiss.search(queries, k)
        return scores, rows

    def score(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Exact inner products of one query vector with corpus rows ``rows``."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return np.stack(self.rows.take(rows)).astype(np.float32) @ np.asarray(query, dtype=np.float32)
