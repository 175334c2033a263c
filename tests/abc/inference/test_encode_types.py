"""The ``encode*`` overloads of AbsEmbedder (and of the ICL embedder's own ``encode_queries``) declare what the
calls return: a str gives a 1-D vector, a sequence of str a 2-D matrix."""
import typing

import numpy as np
import pytest

from FlagEmbedding import FlagICLModel, FlagModel
from FlagEmbedding.abc.inference.embedder import AbsEmbedder

METHODS = ("encode", "encode_queries", "encode_corpus")
#: (class, method) of every override of an encode method that keeps AbsEmbedder's return types
OVERRIDES = [(AbsEmbedder, method) for method in METHODS] + [(FlagICLModel, "encode_queries")]


def _ndarray_rank(alias: typing.Any) -> int:
    """Number of axes in the shape tuple of the ``np.ndarray[...]`` member of a ``Vector``/``Matrix`` alias."""
    (array,) = [arg for arg in typing.get_args(alias) if typing.get_origin(arg) is np.ndarray]
    return len(typing.get_args(typing.get_args(array)[0]))


@pytest.mark.parametrize("cls, method", OVERRIDES)
def test_overloads_map_str_to_vector_and_sequence_to_matrix(cls, method):
    assert method in vars(cls)  # the class's own definition, not an inherited one
    overloads = typing.get_overloads(getattr(cls, method))
    hints = [typing.get_type_hints(overload) for overload in overloads]
    first = next(iter(hints[0]))
    assert [(h[first], _ndarray_rank(h["return"])) for h in hints] == [(str, 1), (typing.Sequence[str], 2)]


@pytest.mark.parametrize("method", METHODS)
def test_returned_ranks_match_the_overloads(tiny_bert, method):
    model = FlagModel(tiny_bert, devices="cpu", use_fp16=False)
    encode = getattr(model, method)
    assert encode("one text").ndim == 1
    assert encode(("one text", "another")).shape[0] == 2 and encode(("one text", "another")).ndim == 2


def test_icl_returned_ranks_match_the_overloads(tiny_decoder):
    model = FlagICLModel(tiny_decoder, devices="cpu", use_fp16=False, query_max_length=64,
                         examples_for_task=[{"instruct": "Find it.", "query": "a", "response": "b"}])
    assert model.encode_queries("one text").ndim == 1
    matrix = model.encode_queries(("one text", "another"))
    assert matrix.ndim == 2 and matrix.shape[0] == 2
    np.testing.assert_allclose(matrix[0], model.encode_queries("one text"), atol=1e-5)
