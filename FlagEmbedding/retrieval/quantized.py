"""Dense search over quantized corpus vectors (``embedding_precision`` of a
:class:`~FlagEmbedding.retrieval.RetrievalIndex`).

The float32 cache shards stay the source: the codes are computed from them once and saved beside them, in
``<dense cache folder>/quantized-<precision>/``, and search reads only the codes:

* ``int8`` / ``uint8``: ``codes.npy`` (one byte per dimension, :func:`~FlagEmbedding.utils.quantization.quantize_embeddings`)
  and ``ranges.npy`` (per-dimension minimum and maximum over the corpus, the calibration sample). Search is exact
  over the dequantized vectors, computed as ``(query * step) . codes + bias`` chunk by chunk (the codes are never
  expanded as a whole);
* ``binary`` / ``ubinary``: ``bits.npy`` (one bit per dimension) searched by Hamming distance with faiss'
  ``IndexBinaryFlat``; the ``rescore_multiplier x k`` nearest are rescored with the float query against the int8
  codes (``codes.npy`` / ``ranges.npy``, read only for the candidates: memory-mapped) and the best ``k`` returned.
  What must stay in memory is the bits (1/32 of the float32 vectors); the int8 codes are read from disk.

Scores are inner products of the float query with the dequantized vectors.
"""
from __future__ import annotations

import logging
import os
from typing import Sequence, Tuple

import numpy as np

from FlagEmbedding.retrieval.dense import RowBlocks
from FlagEmbedding.retrieval.exact_search import index as exact_index, search as exact_search
from FlagEmbedding.utils.files import atomic_save_npy
from FlagEmbedding.utils.quantization import (calibration_ranges, check_precision, dequantize,
                                              int8_query_transform, quantize_embeddings)

logger = logging.getLogger(__name__)

#: corpus rows the int8 ranges are calibrated on (evenly spaced; every row for smaller corpora)
CALIBRATION_ROWS = 100_000
#: rows quantized at a time while building
BUILD_CHUNK_ROWS = 32768
DEFAULT_RESCORE_MULTIPLIER = 4


def quantized_folder(dense_cache_path: str, precision: str) -> str:
    """Where the codes of ``precision`` for the dense cache at ``dense_cache_path`` are saved."""
    return os.path.join(dense_cache_path, f"quantized-{precision}")


def quantized_files(precision: str) -> Tuple[str, ...]:
    """The file names a quantized dense part of ``precision`` reads."""
    scalar = "uint8" if precision == "uint8" else "int8"
    codes = (f"codes-{scalar}.npy", "ranges.npy")
    return codes + (("bits.npy",) if precision in ("binary", "ubinary") else ())


def build_quantized(blocks: Sequence[np.ndarray], precision: str, folder: str) -> None:
    """Quantize the float32 ``blocks`` (corpus order) and save the files of ``precision`` in ``folder``
    (each written atomically)."""
    check_precision(precision, "embedding_precision", ("int8", "uint8", "binary", "ubinary"))
    rows = RowBlocks(blocks)
    os.makedirs(folder, exist_ok=True)
    step = max(1, rows.ntotal // CALIBRATION_ROWS)
    sample = np.stack(rows.take(range(0, rows.ntotal, step))).astype(np.float32)
    ranges = calibration_ranges(sample) if len(sample) >= 2 else np.zeros((2, sample.shape[-1]), np.float32)
    scalar = "uint8" if precision == "uint8" else "int8"
    chunks = [np.asarray(block[start:start + BUILD_CHUNK_ROWS], dtype=np.float32) for block in rows.blocks
              for start in range(0, block.shape[0], BUILD_CHUNK_ROWS)]
    atomic_save_npy(os.path.join(folder, "ranges.npy"), ranges)
    atomic_save_npy(os.path.join(folder, f"codes-{scalar}.npy"),
                    np.concatenate([quantize_embeddings(c, scalar, ranges=ranges) for c in chunks]))
    if precision in ("binary", "ubinary"):
        atomic_save_npy(os.path.join(folder, "bits.npy"),
                        np.concatenate([quantize_embeddings(c, "ubinary") for c in chunks]))
    sizes = {name: os.path.getsize(os.path.join(folder, name)) / 2 ** 20 for name in quantized_files(precision)}
    logger.info("%s codes of %d vectors in %s: %s.", precision, rows.ntotal, folder,
                ", ".join(f"{name} {size:.2f} MiB" for name, size in sizes.items()))


class QuantizedDenseIndex:
    """Inner-product search over quantized dense vectors (see the module doc); the interface of
    :class:`~FlagEmbedding.retrieval.dense.DenseIndex`.

    Args:
        folder: A folder written by :func:`build_quantized`.
        precision: The precision it was built with.
        dim: Width of the float vectors.
    """

    def __init__(self, folder: str, precision: str, dim: int):
        self.precision = check_precision(precision, "embedding_precision", ("int8", "uint8", "binary", "ubinary"))
        self.dim = dim
        self.scalar = "uint8" if precision == "uint8" else "int8"
        self.codes = np.load(os.path.join(folder, f"codes-{self.scalar}.npy"), mmap_mode="r")
        self.ranges = np.load(os.path.join(folder, "ranges.npy"))
        self.binary = None
        if precision in ("binary", "ubinary"):
            import faiss

            bits = np.load(os.path.join(folder, "bits.npy"))
            self.binary = faiss.IndexBinaryFlat(bits.shape[1] * 8)
            self.binary.add(np.ascontiguousarray(bits))
        else:
            self.exact = exact_index([self.codes])

    @property
    def ntotal(self) -> int:
        """Number of corpus rows."""
        return int(self.codes.shape[0])

    def search(self, queries: np.ndarray, k: int,
               rescore_multiplier: int = DEFAULT_RESCORE_MULTIPLIER) -> Tuple[np.ndarray, np.ndarray]:
        """``(scores, rows)`` of the top ``k`` rows per query, best first (binary: the best ``k`` of the
        ``rescore_multiplier * k`` nearest by Hamming distance, rescored)."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, self.ntotal)
        if self.binary is None:
            scaled, bias = self.transform(queries)
            scores, rows = exact_search(self.exact, k, scaled)
            return scores + bias[:, None], rows
        depth = min(self.ntotal, k * max(1, rescore_multiplier))
        _, candidates = self.binary.search(np.ascontiguousarray(quantize_embeddings(queries, "ubinary")), depth)
        out_scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out_rows = np.full((len(queries), k), -1, dtype=np.int64)
        for position, (query, rows) in enumerate(zip(queries, candidates)):
            rows = rows[rows >= 0]
            scores = self.score(query, rows)
            order = np.lexsort((rows, -scores))[:k]
            out_scores[position, :len(order)] = scores[order]
            out_rows[position, :len(order)] = rows[order]
        return out_scores, out_rows

    def transform(self, queries: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """``(scaled, bias)``: ``queries . dequantized == scaled . codes + bias`` (see
        :func:`~FlagEmbedding.utils.quantization.int8_query_transform`)."""
        scaled, bias = int8_query_transform(queries, self.ranges)
        if self.scalar == "uint8":  # uint8 codes are the int8 codes + 128
            bias = bias - 128 * scaled.sum(axis=-1)
        return scaled, bias

    def score(self, query: np.ndarray, rows: Sequence[int]) -> np.ndarray:
        """Inner products of one float query vector with the dequantized corpus rows ``rows``."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        vectors = dequantize(self.codes[np.asarray(rows, dtype=np.int64)], self.scalar, self.ranges)
        return (vectors @ np.asarray(query, dtype=np.float32)).astype(np.float32)

