"""Milvus store: dense and sparse vectors of every document (Milvus holds no ColBERT multivectors; an index with
ColBERT keeps those in its in-process store).

The primary key is the document id (``VARCHAR``), so loading a batch again replaces its rows (``upsert``)
instead of duplicating them. Dense vectors: a ``FLAT`` index with the inner product (exact); sparse vectors:
``SPARSE_FLOAT_VECTOR`` with ``SPARSE_INVERTED_INDEX`` and the inner product. Reciprocal-rank fusion runs in the
database (``hybrid_search`` with ``RRFRanker(k)``: ``1 / (k + rank)``); Milvus's ``WeightedRanker`` normalises the
scores (``arctan``) and is therefore not used for weighted fusion, which the index computes from exact scores. The
builder's identity is a collection property. ``url``: ``http(s)://...`` for a server, else a Milvus Lite file.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from FlagEmbedding.retrieval.stores.base import Hits, VectorStore, client_module

_CLIENTS: Dict[str, Any] = {}
_MARKER = "flagembedding"
#: longest document id (characters) the collection holds
MAX_DOCID = 4096
#: Milvus refuses an empty sparse vector: a document without lexical weights holds this token id (beyond any
#: vocabulary), a query without any this other one, so neither matches anything
EMPTY_DOCUMENT, EMPTY_QUERY = {2**32 - 2: 1.0}, {2**32 - 3: 1.0}


def _pymilvus() -> Any:
    return client_module("pymilvus", "milvus", "'pymilvus' and 'milvus-lite'")


def client(url: str) -> Any:
    """The (shared) ``MilvusClient`` of ``url``: a server URI, or a Milvus Lite database file."""
    if url not in _CLIENTS:
        _CLIENTS[url] = _pymilvus().MilvusClient(uri=url)
    return _CLIENTS[url]


class MilvusStore(VectorStore):
    """A Milvus collection (see the module documentation)."""

    HOLDS = ("dense", "sparse")
    NAME = "milvus"

    def __init__(self, url: str, collection: str):
        super().__init__(url, collection)
        self.pymilvus = _pymilvus()
        self.client = client(url)
        self.params = {"metric_type": "IP"}
        if self.client.has_collection(collection):  # a database opened anew holds its collections released
            self.client.load_collection(collection)

    def identity(self) -> Optional[Dict[str, Any]]:
        if not self.client.has_collection(self.collection):
            return None
        marker = self.client.describe_collection(self.collection).get("properties", {}).get(_MARKER)
        return json.loads(marker) if marker else None

    def create(self, identity: Mapping[str, Any], dims: Mapping[str, int]) -> None:
        data_type = self.pymilvus.DataType
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("docid", data_type.VARCHAR, is_primary=True, max_length=MAX_DOCID)
        index = self.client.prepare_index_params()
        if "dense" in dims:
            schema.add_field("dense", data_type.FLOAT_VECTOR, dim=dims["dense"])
            index.add_index("dense", index_type="FLAT", metric_type="IP")
        if "sparse" in dims:
            schema.add_field("sparse", data_type.SPARSE_FLOAT_VECTOR)
            index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
        if self.client.has_collection(self.collection):
            self.client.drop_collection(self.collection)
        self.client.create_collection(self.collection, schema=schema, index_params=index)
        self.client.alter_collection_properties(self.collection, properties={_MARKER: json.dumps(dict(identity))})

    @staticmethod
    def _value(name: str, value: Any, empty: Mapping[int, float] = EMPTY_QUERY) -> Any:
        if name == "sparse":
            return {int(i): float(v) for i, v in value.items()} or dict(empty)
        return np.asarray(value, dtype=np.float32).tolist()

    def upsert(self, docids: Sequence[str], rows: Mapping[str, Sequence[Any]]) -> None:
        self.client.upsert(self.collection, [{"docid": docid, **{name: self._value(name, rows[name][i], EMPTY_DOCUMENT)
                                                                for name in rows}}
                                             for i, docid in enumerate(docids)])

    def delete(self, docids: Sequence[str]) -> None:
        self.client.delete(self.collection, ids=list(docids))

    def count(self) -> int:
        result = self.client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(result[0]["count(*)"])

    def _search(self, name: str, queries: Sequence[Any], k: int, **kwargs: Any) -> List[Hits]:
        results = self.client.search(self.collection, data=[self._value(name, q) for q in queries], anns_field=name,
                                     limit=k, search_params=self.params, output_fields=["docid"], **kwargs)
        return [{hit["entity"]["docid"]: float(hit["distance"]) for hit in hits
                 if name != "sparse" or hit["distance"] > 0} for hits in results]

    def search(self, name: str, queries: Sequence[Any], k: int) -> List[Hits]:
        return self._search(name, queries, k)

    def score(self, name: str, query: Any, docids: Sequence[str]) -> np.ndarray:
        if len(docids) == 0:
            return np.zeros(0, dtype=np.float32)
        hits = self._search(name, [query], len(docids), filter=f"docid in {json.dumps(list(docids))}")[0]
        return np.array([hits.get(d, 0.0) for d in docids], dtype=np.float32)

    def rrf(self, queries: Mapping[str, Sequence[Any]], depth: int, k: int) -> Optional[List[Hits]]:
        names = list(queries)
        count = len(next(iter(queries.values())))
        out = []
        for i in range(count):  # hybrid_search takes one query per request
            requests = [self.pymilvus.AnnSearchRequest(data=[self._value(name, queries[name][i])], anns_field=name,
                                                       param=self.params, limit=depth) for name in names]
            hits = self.client.hybrid_search(self.collection, requests, self.pymilvus.RRFRanker(k),
                                             limit=depth * len(names), output_fields=["docid"])[0]
            out.append({hit["entity"]["docid"]: float(hit["distance"]) for hit in hits})
        return out
