"""Compact embeddings: scalar (int8 / uint8) and binary quantization of float vectors, and per-token int8 / int4
codes of ColBERT token vectors. Pure numpy.

The dense precisions follow sentence-transformers' ``quantize_embeddings``:

* ``float32``: the vectors as float32;
* ``uint8``: per dimension ``d``, ``q = clip(floor((x - start_d) / step_d), 0, 255)`` with
  ``start_d, stop_d`` the minimum and maximum of dimension ``d`` over calibration vectors (``ranges``, shape
  ``(2, dim)``) and ``step_d = (stop_d - start_d) / 255`` (1 where the range is empty);
* ``int8``: the same codes minus 128;
* ``ubinary``: ``numpy.packbits(x > 0)`` (``ceil(dim / 8)`` bytes per vector);
* ``binary``: the same bytes minus 128, as int8.

:func:`dequantize` maps int8 / uint8 codes back to the centre of their bucket (``start + (q + 0.5) * step``); for
inner-product ranking the choice of the point inside the bucket does not matter (it shifts every document's score
for one query by the same amount).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

#: the precisions of :func:`quantize_embeddings`
PRECISIONS = ("float32", "int8", "uint8", "binary", "ubinary")
#: the precisions of ColBERT token stores (see :func:`quantize_tokens`)
TOKEN_PRECISIONS = ("float16", "int8", "int4")


def check_precision(precision: Any, name: str = "precision", allowed: Sequence[str] = PRECISIONS) -> str:
    """``precision`` when it is one of ``allowed``, else a ``ValueError`` naming argument ``name``."""
    if not isinstance(precision, str) or precision not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {precision!r}.")
    return precision


def _float_matrix(embeddings: Any, name: str) -> np.ndarray:
    if hasattr(embeddings, "detach"):  # a torch tensor
        embeddings = embeddings.detach().float().cpu().numpy()
    array = np.asarray(embeddings)
    if array.dtype.kind != "f":
        raise ValueError(f"{name} must be float vectors, got dtype {array.dtype}.")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} hold NaN or infinite values.")
    return array.astype(np.float32, copy=False)


def calibration_ranges(calibration_embeddings: Any) -> np.ndarray:
    """``(2, dim)`` float32: the per-dimension minimum and maximum of ``calibration_embeddings`` (two or more
    vectors)."""
    sample = _float_matrix(calibration_embeddings, "calibration_embeddings")
    if sample.ndim != 2 or sample.shape[0] < 2:
        raise ValueError("calibration_embeddings must be a matrix of two or more vectors, got shape "
                         f"{sample.shape}.")
    return np.stack([sample.min(axis=0), sample.max(axis=0)]).astype(np.float32)


def _ranges(embeddings: np.ndarray, ranges: Optional[Any], calibration_embeddings: Optional[Any]) -> np.ndarray:
    if ranges is not None:
        checked = _float_matrix(ranges, "ranges")
        if checked.shape != (2, embeddings.shape[-1]):
            raise ValueError(f"ranges must have shape (2, {embeddings.shape[-1]}), got {checked.shape}.")
        return checked
    if calibration_embeddings is not None:
        return calibration_ranges(calibration_embeddings)
    if embeddings.ndim != 2 or embeddings.shape[0] < 2:
        raise ValueError("int8 / uint8 quantization of a single vector needs ranges or calibration_embeddings.")
    return calibration_ranges(embeddings)


def _steps(ranges: np.ndarray) -> np.ndarray:
    steps = (ranges[1] - ranges[0]) / 255
    return np.where(steps == 0, 1, steps).astype(np.float32)


def quantize_embeddings(embeddings: Any, precision: str, ranges: Optional[Any] = None,
                        calibration_embeddings: Optional[Any] = None) -> np.ndarray:
    """Quantize float vectors (one vector or a matrix; numpy or torch) to ``precision`` (see the module doc).

    Args:
        embeddings: Float vectors, ``[dim]`` or ``[n, dim]``.
        precision: One of :data:`PRECISIONS`.
        ranges: int8 / uint8: ``(2, dim)`` per-dimension minimum and maximum (see :func:`calibration_ranges`).
        calibration_embeddings: int8 / uint8 without ``ranges``: vectors the ranges are computed from
            (default: ``embeddings`` themselves, which needs two or more of them).

    Returns:
        float32 ``[..., dim]``; int8 / uint8 ``[..., dim]``; binary (int8) / ubinary (uint8) ``[..., ceil(dim / 8)]``.

    Raises:
        ValueError: an unknown ``precision`` (naming it), non-float or non-finite inputs, ``ranges`` of the wrong
            shape, or a single vector to scale-quantize without ``ranges`` or ``calibration_embeddings``.
    """
    check_precision(precision)
    array = _float_matrix(embeddings, "embeddings")
    if precision == "float32":
        return array
    if precision in ("binary", "ubinary"):
        packed = np.packbits(array > 0, axis=-1)
        return (packed.astype(np.int16) - 128).astype(np.int8) if precision == "binary" else packed
    bounds = _ranges(array, ranges, calibration_embeddings)
    codes = np.clip(np.floor((array - bounds[0]) / _steps(bounds)), 0, 255)
    return codes.astype(np.uint8) if precision == "uint8" else (codes - 128).astype(np.int8)


def dequantize(codes: np.ndarray, precision: str, ranges: np.ndarray) -> np.ndarray:
    """float32 vectors at the centre of the buckets of int8 / uint8 ``codes`` (``ranges`` as quantized)."""
    check_precision(precision, allowed=("int8", "uint8"))
    bounds = np.asarray(ranges, dtype=np.float32)
    values = np.asarray(codes).astype(np.float32) + (128.5 if precision == "int8" else 0.5)
    return values * _steps(bounds) + bounds[0]


def int8_query_transform(queries: np.ndarray, ranges: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """``(scaled, bias)`` with ``queries @ dequantize(codes, "int8", ranges).T == scaled @ codes.T + bias[:, None]``:
    inner products with int8 codes without dequantizing the corpus."""
    bounds = np.asarray(ranges, dtype=np.float32)
    steps = _steps(bounds)
    queries = np.asarray(queries, dtype=np.float32)
    return queries * steps, queries @ (bounds[0] + 128.5 * steps)


def unpack_binary(codes: np.ndarray, precision: str, dim: int) -> np.ndarray:
    """The 0/1 bits (uint8, ``[..., dim]``) of binary / ubinary codes."""
    check_precision(precision, allowed=("binary", "ubinary"))
    packed = np.asarray(codes)
    if precision == "binary":
        packed = (packed.astype(np.int16) + 128).astype(np.uint8)
    return np.unpackbits(packed.astype(np.uint8), axis=-1)[..., :dim]


# ---------------------------------------------------------------------- ColBERT token vectors
def quantize_tokens(vectors: Any, precision: str) -> Tuple[np.ndarray, np.ndarray]:
    """Per-token symmetric codes of token vectors ``[tokens, dim]``: ``x ~= scale_t * q_t``.

    ``int8``: ``q`` in ``[-127, 127]``, ``scale_t = max|x_t| / 127``; ``int4``: ``q`` in ``[-7, 7]``,
    ``scale_t = max|x_t| / 7``, two codes per byte (low nibble first, ``dim`` rounded up to even);
    ``float16``: the vectors in float16 and scales of 1. Returns ``(codes, scales)`` (scales float32
    ``[tokens]``); an all-zero token gets scale 0.
    """
    check_precision(precision, "colbert_precision", TOKEN_PRECISIONS)
    array = _float_matrix(vectors, "vectors")
    if precision == "float16":
        return array.astype(np.float16), np.ones(len(array), dtype=np.float32)
    levels = 127 if precision == "int8" else 7
    peak = np.abs(array).max(axis=-1) if array.size else np.zeros(len(array), dtype=np.float32)
    scales = (peak / levels).astype(np.float32)
    safe = np.where(scales == 0, 1, scales)
    codes = np.clip(np.rint(array / safe[:, None]), -levels, levels).astype(np.int8)
    if precision == "int8":
        return codes, scales
    if codes.shape[-1] % 2:
        codes = np.concatenate([codes, np.zeros((len(codes), 1), dtype=np.int8)], axis=-1)
    nibbles = (codes.astype(np.int16) & 0xF).astype(np.uint8)
    return (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).view(np.int8), scales


def dequantize_tokens(codes: np.ndarray, scales: np.ndarray, precision: str, dim: int) -> np.ndarray:
    """float32 ``[tokens, dim]`` token vectors of :func:`quantize_tokens` codes."""
    check_precision(precision, "colbert_precision", TOKEN_PRECISIONS)
    codes = np.asarray(codes)
    if precision == "float16":
        return codes.astype(np.float32)
    if precision == "int4":
        packed = codes.view(np.uint8)
        unpacked = np.empty((len(packed), packed.shape[-1] * 2), dtype=np.int8)
        for column, nibble in ((0, packed & 0xF), (1, packed >> 4)):
            unpacked[:, column::2] = np.where(nibble > 7, nibble.astype(np.int16) - 16, nibble).astype(np.int8)
        codes = unpacked[:, :dim]
    return codes.astype(np.float32) * np.asarray(scales, dtype=np.float32)[:, None]


def token_code_width(dim: int, precision: str) -> int:
    """Bytes of one token's codes (``dim`` for int8, ``ceil(dim / 2)`` for int4, ``2 * dim`` for float16)."""
    check_precision(precision, "colbert_precision", TOKEN_PRECISIONS)
    return {"float16": 2 * dim, "int8": dim, "int4": (dim + 1) // 2}[precision]


# ---------------------------------------------------------------------- encode outputs
def quantize_output(output: Any, precision: str, ranges: Optional[Any] = None,
                    calibration_embeddings: Optional[Any] = None) -> Any:
    """An encode result with its dense vectors quantized (:func:`quantize_embeddings`): an array or tensor
    (returned as a numpy array), or the ``dense_vecs`` of an M3 result dict (other outputs unchanged).
    ``float32`` returns ``output`` as it is."""
    check_precision(precision)
    if precision == "float32":
        return output
    if isinstance(output, dict):
        if output.get("dense_vecs") is None:
            return output
        return {**output, "dense_vecs": quantize_output(output["dense_vecs"], precision, ranges,
                                                        calibration_embeddings)}
    return quantize_embeddings(output, precision, ranges, calibration_embeddings)


def pop_precision(kwargs: Dict[str, Any]) -> Tuple[str, Optional[Any], Optional[Any]]:
    """Remove and return ``(precision, ranges, calibration_embeddings)`` from encode keyword arguments
    (``precision`` checked; default ``float32``), for encode paths that take them through ``**kwargs``."""
    precision = check_precision(kwargs.pop("precision", "float32"))
    return precision, kwargs.pop("ranges", None), kwargs.pop("calibration_embeddings", None)
