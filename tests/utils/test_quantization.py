"""Quantization of float vectors (FlagEmbedding.utils.quantization) against an independent numpy reference and
against sentence-transformers' ``quantize_embeddings``; ``encode(precision=...)`` on a tiny embedder."""
from __future__ import annotations

import numpy as np
import pytest

from FlagEmbedding.utils import quantization as q


def vectors(n: int = 64, dim: int = 20, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference_uint8(x: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """Bucket index of each value among 255 equal buckets of [min, max] of its dimension over ``sample``."""
    out = np.zeros(x.shape, dtype=np.int64)
    for d in range(x.shape[1]):
        low, high = float(sample[:, d].min()), float(sample[:, d].max())
        edges = np.linspace(low, high, 256)
        out[:, d] = np.clip(np.searchsorted(edges, x[:, d], side="right") - 1, 0, 255)
    return out


def reference_bits(x: np.ndarray) -> np.ndarray:
    bits = (x > 0).astype(np.int64)
    pad = (-bits.shape[1]) % 8
    bits = np.concatenate([bits, np.zeros((len(bits), pad), np.int64)], axis=1)
    return (bits.reshape(len(bits), -1, 8) * (1 << np.arange(7, -1, -1))).sum(axis=2)


def test_scalar_and_binary_codes_equal_the_reference():
    x, sample = vectors(50), vectors(200, seed=1)
    expected = reference_uint8(x, sample)
    uint8 = q.quantize_embeddings(x, "uint8", calibration_embeddings=sample)
    # float32 rounding of the bucket edges may move a value on an edge by one bucket
    assert uint8.dtype == np.uint8 and np.abs(uint8.astype(int) - expected).max() <= 1
    assert (uint8.astype(int) == expected).mean() > 0.99
    int8 = q.quantize_embeddings(x, "int8", ranges=q.calibration_ranges(sample))
    assert int8.dtype == np.int8 and np.array_equal(int8.astype(int), uint8.astype(int) - 128)
    ubinary = q.quantize_embeddings(x, "ubinary")
    assert ubinary.dtype == np.uint8 and ubinary.shape == (50, 3)
    assert np.array_equal(ubinary, reference_bits(x))
    binary = q.quantize_embeddings(x, "binary")
    assert binary.dtype == np.int8 and np.array_equal(binary.astype(int), reference_bits(x) - 128)
    assert np.array_equal(q.unpack_binary(binary, "binary", 20), (x > 0).astype(np.uint8))
    assert q.quantize_embeddings(x, "float32").dtype == np.float32


@pytest.mark.parametrize("precision", q.PRECISIONS)
def test_equal_to_sentence_transformers(precision):
    st_quantization = pytest.importorskip("sentence_transformers.util.quantization")
    x, sample = vectors(30, 17), vectors(100, 17, seed=2)
    ours = q.quantize_embeddings(x, precision, calibration_embeddings=sample)
    theirs = st_quantization.quantize_embeddings(x, precision, calibration_embeddings=sample)
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_dequantize_and_int8_inner_products():
    x, queries = vectors(40), vectors(5, seed=4)
    sample = np.concatenate([x, vectors(300, seed=3)])  # every value of x inside the calibrated ranges
    ranges = q.calibration_ranges(sample)
    codes = q.quantize_embeddings(x, "int8", ranges=ranges)
    restored = q.dequantize(codes, "int8", ranges)
    steps = (ranges[1] - ranges[0]) / 255
    assert np.all(np.abs(restored - x) <= steps / 2 + 1e-6)  # the centre of the value's bucket
    assert np.allclose(q.dequantize(codes.astype(np.int16) + 128, "uint8", ranges), restored)
    scaled, bias = q.int8_query_transform(queries, ranges)
    assert np.allclose(scaled @ codes.T.astype(np.float32) + bias[:, None], queries @ restored.T, atol=1e-5)


@pytest.mark.parametrize("precision,bound", [("int8", 1 / 254), ("int4", 1 / 14), ("float16", 1e-3)])
def test_token_codes_round_trip(precision, bound):
    x = vectors(9, 7)
    x[4] = 0  # an all-zero token keeps scale 0
    codes, scales = q.quantize_tokens(x, precision)
    assert codes.shape[1] == q.token_code_width(7, precision) // (2 if precision == "float16" else 1)
    restored = q.dequantize_tokens(codes, scales, precision, 7)
    peak = np.abs(x).max(axis=1, keepdims=True)
    assert np.all(np.abs(restored - x) <= peak * bound + 1e-6) and not restored[4].any()


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"^precision must be one of float32, int8, uint8, binary, ubinary, got 'fp8'\.$"):
        q.quantize_embeddings(vectors(3), "fp8")
    with pytest.raises(ValueError, match="single vector needs ranges or calibration_embeddings"):
        q.quantize_embeddings(vectors(1)[0], "int8")
    with pytest.raises(ValueError, match=r"ranges must have shape \(2, 20\)"):
        q.quantize_embeddings(vectors(3), "uint8", ranges=np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="embeddings hold NaN"):
        q.quantize_embeddings(np.array([[np.nan, 1.0], [0.0, 1.0]]), "binary")
    with pytest.raises(ValueError, match="colbert_precision must be one of float16, int8, int4"):
        q.quantize_tokens(vectors(3), "int2")


def test_encode_precision(tiny_bert):
    from FlagEmbedding import FlagModel

    model = FlagModel(tiny_bert, use_fp16=False, devices="cpu")
    texts = ["a panda", "the quick brown fox", "capital of France", "dense vectors"]
    floats = model.encode(texts)
    for precision, dtype, width in [("int8", np.int8, floats.shape[1]), ("uint8", np.uint8, floats.shape[1]),
                                    ("binary", np.int8, (floats.shape[1] + 7) // 8),
                                    ("ubinary", np.uint8, (floats.shape[1] + 7) // 8)]:
        out = model.encode(texts, precision=precision)
        assert out.dtype == dtype and out.shape == (4, width)
        assert np.array_equal(out, q.quantize_embeddings(floats, precision))
    sample = model.encode_corpus(texts * 2)
    single = model.encode_queries("a panda", precision="int8", calibration_embeddings=sample)
    assert single.shape == (floats.shape[1],) and single.dtype == np.int8
    with pytest.raises(ValueError, match="precision must be one of"):
        model.encode(texts, precision="int4")


def test_m3_encode_precision_quantizes_dense_vecs_only(tiny_xlmr_m3):
    from FlagEmbedding import BGEM3FlagModel

    model = BGEM3FlagModel(tiny_xlmr_m3, use_fp16=False, devices="cpu")
    texts = ["a panda", "the quick brown fox", "capital of France"]
    floats = model.encode(texts, return_sparse=True, return_colbert_vecs=True)
    out = model.encode(texts, return_sparse=True, return_colbert_vecs=True, precision="ubinary")
    assert np.array_equal(out["dense_vecs"], q.quantize_embeddings(floats["dense_vecs"], "ubinary"))
    assert out["lexical_weights"] == floats["lexical_weights"]
    for got, expected in zip(out["colbert_vecs"], floats["colbert_vecs"]):
        assert got.dtype == np.float32 and np.array_equal(got, expected)
