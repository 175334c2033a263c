"""The contract every vector-database store of a :class:`~FlagEmbedding.retrieval.RetrievalIndex` fulfils.

A store is one collection in one database. It holds, per document id, the representations of :attr:`HOLDS` and
answers the three questions the index asks (see :mod:`FlagEmbedding.retrieval.stores`): the ``k`` best documents
by one representation (:meth:`search`), the exact score of given documents (:meth:`score`) and, where the database
fuses the way the index does, a reciprocal-rank fusion of first stages (:meth:`rrf`). Query and document values:

* ``dense``: one float32 vector (inner product);
* ``sparse``: ``{token id: weight}`` (inner product over shared tokens; documents sharing none are not returned);
* ``colbert``: a ``[tokens, dim]`` array (``mean_i max_j q_i . p_j``, the score of ``BGEM3FlagModel.colbert_score``).

The collection records who built it (:meth:`identity`: the model fingerprint and index settings), so an index
opened with another model or other settings is refused instead of searched.
"""
from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from FlagEmbedding.utils.errors import MissingPackageError

#: ``{docid: score}`` of one query
Hits = Dict[str, float]


def client_module(module: str, backend: str, packages: str) -> Any:
    """The client module ``module`` of ``backend`` (a :class:`MissingPackageError` naming the pip install of
    ``FlagEmbedding[backend]`` when ``packages`` are not installed)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingPackageError(f"--index_backend {backend} needs the optional package(s) {packages}; install "
                                  f"with `pip install \"FlagEmbedding[{backend}]\"`.") from error


class VectorStore(ABC):
    """One collection of a vector database.

    Args:
        url: Server URL (``http://...``) or the path of the embedded database.
        collection: Collection name.
    """

    #: representations this database can hold
    HOLDS: Tuple[str, ...] = ("dense", "sparse")
    #: the name of the backend (``--index_backend``)
    NAME = ""

    def __init__(self, url: str, collection: str):
        self.url = url
        self.collection = collection

    def __repr__(self) -> str:
        return f"{self.NAME} collection {self.collection!r} at {self.url}"

    @abstractmethod
    def identity(self) -> Optional[Dict[str, Any]]:
        """What the collection was built from (``{"model": ..., "settings": ..., "key": ...}``); ``None`` when
        there is no collection, or an empty one without a record (a build stopped right after creating it)."""

    @abstractmethod
    def create(self, identity: Mapping[str, Any], dims: Mapping[str, int]) -> None:
        """(Re)create the empty collection for the representations of ``dims`` (``{name: vector width}``;
        ``sparse``: the vocabulary size) and record ``identity`` in it."""

    @abstractmethod
    def upsert(self, docids: Sequence[str], rows: Mapping[str, Sequence[Any]]) -> None:
        """Insert or replace documents ``docids`` with their values of each representation (idempotent)."""

    @abstractmethod
    def delete(self, docids: Sequence[str]) -> None:
        """Remove documents ``docids`` (unknown ids are ignored)."""

    @abstractmethod
    def count(self) -> int:
        """Number of documents in the collection."""

    @abstractmethod
    def search(self, name: str, queries: Sequence[Any], k: int) -> List[Hits]:
        """Per query, the ``k`` best documents by representation ``name`` (exact search)."""

    @abstractmethod
    def score(self, name: str, query: Any, docids: Sequence[str]) -> np.ndarray:
        """Exact ``name`` scores of one query against ``docids`` (0 for a document the database does not score,
        e.g. sharing no token with a sparse query)."""

    def rrf(self, queries: Mapping[str, Sequence[Any]], depth: int, k: int) -> Optional[List[Hits]]:
        """Reciprocal-rank fusion ``sum_m 1 / (k + rank_m)`` of the ``depth`` best documents of each
        representation of ``queries``, run in the database: every fused document per query (their scores; the
        caller orders and cuts); ``None`` when this database cannot fuse exactly so (the index fuses itself)."""
        return None
