"""Qdrant store: dense, sparse and ColBERT multivectors (MaxSim) of every document in one collection.

Point ids are UUIDs derived from the document id (``uuid5``), so loading a batch again replaces its points
instead of duplicating them; the document id is the ``docid`` payload. Dense and ColBERT vectors use the dot
product (``Distance.DOT``; the multivector comparator ``MAX_SIM`` sums the per-query-token maxima, divided here by
the number of query tokens to give M3's mean), sparse vectors the sparse dot product; every search is exact
(``SearchParams(exact=True)``). Reciprocal-rank fusion runs in the database (``prefetch`` per representation +
``RrfQuery``; Qdrant's ``1 / (k' + rank - 1)`` with ``k' = k + 1`` equals ``1 / (k + rank)``). The builder's
identity is the collection's ``metadata``. ``url``: ``http(s)://...`` for a server, else the folder of Qdrant's
embedded local mode (one client per folder and process: local mode locks its folder).
"""
from __future__ import annotations

import atexit
import uuid
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from FlagEmbedding.retrieval.stores.base import Hits, VectorStore, client_module

_CLIENTS: Dict[str, Any] = {}
_NAMESPACE = uuid.UUID("5b0e3c6e-8c1f-4a53-9b86-2f7d1c9a4e10")
_MARKER = "flagembedding"


def _models() -> Any:
    return client_module("qdrant_client.models", "qdrant", "'qdrant-client'")


def point_id(docid: str) -> str:
    """The point id (a UUID) of document ``docid``."""
    return str(uuid.uuid5(_NAMESPACE, docid))


def client(url: str) -> Any:
    """The (shared) ``QdrantClient`` of ``url``: a server URL, or the folder of the embedded local mode."""
    if url not in _CLIENTS:
        _models()
        from qdrant_client import QdrantClient

        remote = url.startswith(("http://", "https://"))
        _CLIENTS[url] = QdrantClient(url=url) if remote else QdrantClient(path=url)
        if len(_CLIENTS) == 1:  # closed before the interpreter tears down (else local mode's __del__ complains)
            atexit.register(_close_all)
    return _CLIENTS[url]


def _close_all() -> None:
    while _CLIENTS:
        _CLIENTS.popitem()[1].close()


class QdrantStore(VectorStore):
    """A Qdrant collection (see the module documentation)."""

    HOLDS = ("dense", "sparse", "colbert")
    NAME = "qdrant"

    def __init__(self, url: str, collection: str):
        super().__init__(url, collection)
        self.models = _models()
        self.client = client(url)
        remote = url.startswith(("http://", "https://"))
        self.exact = self.models.SearchParams(exact=True) if remote else None  # local mode is always exact

    def identity(self) -> Optional[Dict[str, Any]]:
        if not self.client.collection_exists(self.collection):
            return None
        metadata = self.client.get_collection(self.collection).config.metadata or {}
        return metadata.get(_MARKER)

    def create(self, identity: Mapping[str, Any], dims: Mapping[str, int]) -> None:
        m = self.models
        vectors = {}
        if "dense" in dims:
            vectors["dense"] = m.VectorParams(size=dims["dense"], distance=m.Distance.DOT)
        if "colbert" in dims:
            vectors["colbert"] = m.VectorParams(
                size=dims["colbert"], distance=m.Distance.DOT, hnsw_config=m.HnswConfigDiff(m=0),
                multivector_config=m.MultiVectorConfig(comparator=m.MultiVectorComparator.MAX_SIM))
        sparse = {"sparse": m.SparseVectorParams()} if "sparse" in dims else None
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)
        self.client.create_collection(self.collection, vectors_config=vectors, sparse_vectors_config=sparse,
                                      metadata={_MARKER: dict(identity)})

    def _query(self, name: str, value: Any) -> Any:
        if name == "sparse":
            return self.models.SparseVector(indices=[int(i) for i in value], values=[float(v) for v in value.values()])
        return np.asarray(value, dtype=np.float32).tolist()

    def upsert(self, docids: Sequence[str], rows: Mapping[str, Sequence[Any]]) -> None:
        points = [self.models.PointStruct(id=point_id(docid), payload={"docid": docid},
                                          vector={name: self._query(name, rows[name][i]) for name in rows})
                  for i, docid in enumerate(docids)]
        self.client.upsert(self.collection, points=points, wait=True)

    def delete(self, docids: Sequence[str]) -> None:
        self.client.delete(self.collection, points_selector=self.models.PointIdsList(
            points=[point_id(d) for d in docids]), wait=True)

    def count(self) -> int:
        return int(self.client.count(self.collection, exact=True).count)

    def _hits(self, name: str, query: Any, points: Sequence[Any]) -> Hits:
        scale = 1.0 / max(1, len(query)) if name == "colbert" else 1.0
        return {p.payload["docid"]: float(p.score) * scale for p in points if name != "sparse" or p.score > 0}

    def _requests(self, requests: List[Any]) -> List[Any]:
        return [response.points for response in self.client.query_batch_points(self.collection, requests=requests)]

    def search(self, name: str, queries: Sequence[Any], k: int) -> List[Hits]:
        requests = [self.models.QueryRequest(query=self._query(name, q), using=name, limit=k, params=self.exact,
                                             with_payload=["docid"]) for q in queries]
        return [self._hits(name, q, points) for q, points in zip(queries, self._requests(requests))]

    def score(self, name: str, query: Any, docids: Sequence[str]) -> np.ndarray:
        if len(docids) == 0:
            return np.zeros(0, dtype=np.float32)
        only = self.models.Filter(must=[self.models.HasIdCondition(has_id=[point_id(d) for d in docids])])
        request = self.models.QueryRequest(query=self._query(name, query), using=name, filter=only,
                                           limit=len(docids), params=self.exact, with_payload=["docid"])
        hits = self._hits(name, query, self._requests([request])[0])
        return np.array([hits.get(d, 0.0) for d in docids], dtype=np.float32)

    def rrf(self, queries: Mapping[str, Sequence[Any]], depth: int, k: int) -> Optional[List[Hits]]:
        m = self.models
        names = list(queries)
        count = len(next(iter(queries.values())))
        requests = [m.QueryRequest(
            prefetch=[m.Prefetch(query=self._query(name, queries[name][i]), using=name, limit=depth, params=self.exact)
                      for name in names],
            query=m.RrfQuery(rrf=m.Rrf(k=k + 1)), limit=depth * len(names), with_payload=["docid"])
            for i in range(count)]
        return [{p.payload["docid"]: float(p.score) for p in points} for points in self._requests(requests)]
