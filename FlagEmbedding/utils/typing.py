"""Shared static types: what retrieval, evaluation and the server need of an embedder, and the BGE-M3 outputs.

This module sits in the lowest layer so that ``retrieval`` can name an embedder's type without importing
``abc``: :class:`Embedder` is a structural :class:`~typing.Protocol` that
:class:`~FlagEmbedding.abc.inference.embedder.AbsEmbedder` and every concrete embedder satisfy.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Sequence, Tuple, TypedDict, Union

import numpy as np

if TYPE_CHECKING:  # torch stays unimported for this module's importers
    import torch

#: Dense output of an encode call: one vector for a str, one row per text for a sequence (a tensor when
#: ``convert_to_numpy`` is False).
DenseOutput = Union[np.ndarray, "torch.Tensor"]


class M3Output(TypedDict):
    """What :meth:`BGEM3FlagModel.encode <FlagEmbedding.inference.embedder.encoder_only.m3.M3Embedder.encode>`
    returns; an output that was not requested is None.

    For a sequence of texts ``lexical_weights`` is a list of ``{token id: weight}`` dicts and ``colbert_vecs`` a
    list of ``(tokens, dim)`` arrays; for one str they are the single dict / array.
    """

    dense_vecs: Optional[DenseOutput]
    lexical_weights: Optional[Union[Dict[str, Any], List[Dict[str, Any]]]]
    colbert_vecs: Optional[Union[np.ndarray, List[np.ndarray]]]


#: What an :class:`Embedder`'s encode methods return.
EmbedderOutput = Union[DenseOutput, M3Output]

#: One input's vector, shape ``(dim,)``: what a ``str`` encodes to (a tensor when ``convert_to_numpy`` is False).
Vector = Union[np.ndarray[Tuple[int], np.dtype[Any]], "torch.Tensor"]
#: One row per input, shape ``(n, dim)``: what a sequence of ``str`` encodes to (a tensor when
#: ``convert_to_numpy`` is False).
Matrix = Union[np.ndarray[Tuple[int, int], np.dtype[Any]], "torch.Tensor"]
#: What ``AbsEmbedder.encode*`` declare for one ``str`` / for a sequence of ``str``: the :data:`Vector` /
#: :data:`Matrix` of a dense embedder, or the :class:`M3Output` dict of BGE-M3, whose ``encode*`` override them
#: (an M3Output holds one input's outputs, or one entry per input).
VectorOutput = Union[Vector, M3Output]
MatrixOutput = Union[Matrix, M3Output]


class Embedder(Protocol):
    """An embedder: anything with the library's three encode methods (every ``AbsEmbedder`` subclass).

    Extra keyword arguments (``convert_to_numpy``, the M3 ``return_*`` switches, ...) pass through ``**kwargs``.
    """

    def encode_queries(self, queries: Sequence[str], batch_size: Optional[int] = None,
                       max_length: Optional[int] = None, **kwargs: Any) -> EmbedderOutput:
        """Encode queries with the query instruction and the query length limit."""
        ...

    def encode_corpus(self, corpus: Sequence[str], batch_size: Optional[int] = None,
                      max_length: Optional[int] = None, **kwargs: Any) -> EmbedderOutput:
        """Encode passages with the passage instruction and the passage length limit."""
        ...

    def encode(self, sentences: Sequence[str], batch_size: Optional[int] = None,
               max_length: Optional[int] = None, **kwargs: Any) -> EmbedderOutput:
        """Encode texts without an instruction."""
        ...
