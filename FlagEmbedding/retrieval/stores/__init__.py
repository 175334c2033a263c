"""Vector-database backends of :class:`~FlagEmbedding.retrieval.RetrievalIndex` (``backend="qdrant"`` /
``"milvus"``; ``"memory"`` is the in-process index).

What runs where (``first_stage`` / ``score`` of the index go to the store for the representations it holds):

* dense and sparse first stages: exact k-NN search in the database;
* ``colbert``: dense candidates from the database, rescored with the ColBERT MaxSim of the database (Qdrant;
  Milvus holds no multivectors: the ColBERT rows stay in the index folder's in-process store);
* ``hybrid`` / ``all`` with ``fusion="rrf"``: the database fuses (prefetch + RRF) when it holds every fused
  representation; with ``fusion="weighted"`` the index fuses in process over exact scores the database returns
  for every candidate (the databases' own weighted rankers normalise scores differently); ``all`` then rescores
  its ``rerank_top_k`` best from database scores;
* BM25 always runs in process (bm25s).

Loading reads the vectors from the index folder's embedding cache (so a corpus is encoded once, whatever the
backend) in batches of :data:`LOAD_BATCH_ROWS`, with a progress bar; the rows loaded so far are recorded in
``store-<backend>-<collection>.json`` beside the index manifest after every batch, so a killed load continues where it
stopped, and upserts keyed by document id never duplicate a document.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

from FlagEmbedding.retrieval.stores.base import Hits, VectorStore
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, read_json_file

logger = logging.getLogger(__name__)

#: ``--index_backend`` values
BACKENDS = ("memory", "qdrant", "milvus")
#: documents upserted per database call
LOAD_BATCH_ROWS = 512

__all__ = ["BACKENDS", "Hits", "LOAD_BATCH_ROWS", "VectorStore", "check_backend", "default_url", "load_rows",
           "check_store_flags", "index_store_args", "open_store", "part_values", "state_path"]


def check_backend(backend: str) -> str:
    """``backend`` when it is one of :data:`BACKENDS` (else :class:`InputError` naming the argument)."""
    if backend not in BACKENDS:
        raise InputError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}.")
    return backend


def default_url(backend: str, folder: str) -> str:
    """The embedded database of ``backend`` under ``folder``: Qdrant's local-mode folder or a Milvus Lite file."""
    return os.path.join(folder, "qdrant") if backend == "qdrant" else os.path.join(folder, "milvus.db")


def open_store(backend: str, url: str, collection: str) -> VectorStore:
    """The store of ``collection`` in the ``backend`` database at ``url`` (the client package imported here:
    a missing one is a :class:`~FlagEmbedding.utils.errors.MissingPackageError` naming the pip install)."""
    if backend == "qdrant":
        from FlagEmbedding.retrieval.stores.qdrant import QdrantStore

        return QdrantStore(url, collection)
    if backend == "milvus":
        from FlagEmbedding.retrieval.stores.milvus import MilvusStore

        if not url.startswith(("http://", "https://", "tcp://")):
            os.makedirs(os.path.dirname(os.path.abspath(url)), exist_ok=True)
        return MilvusStore(url, collection)
    raise InputError(f"backend must be qdrant or milvus for a database store, got {backend!r}.")


def state_path(folder: str, backend: str, collection: str) -> str:
    """The load-progress file of ``collection`` in the index folder."""
    return os.path.join(folder, f"store-{backend}-{collection}.json")


def read_state(folder: str, backend: str, collection: str) -> Dict[str, Any]:
    """The recorded state of ``collection`` (``{}`` when none)."""
    path = state_path(folder, backend, collection)
    if not os.path.exists(path):
        return {}
    state = read_json_file(path, "vector-store state")
    return state if isinstance(state, dict) else {}


def load_rows(store: VectorStore, folder: str, identity: Mapping[str, Any], dims: Mapping[str, int],
              docids: Sequence[str], rows: Callable[[int, int], Mapping[str, Sequence[Any]]], overwrite: bool,
              refuse: Callable[[Optional[Mapping[str, Any]]], None]) -> None:
    """Fill ``store`` with the corpus, resuming a stopped load.

    Args:
        store: The collection.
        folder: Index folder (holds the state file).
        identity: What the index is built from (recorded in the collection).
        dims: Widths of the representations (see :meth:`VectorStore.create`).
        docids: The corpus ids, in row order.
        rows: ``(start, end) -> {name: values of rows start..end}``.
        overwrite: Recreate the collection even when it holds this index.
        refuse: Called with the collection's identity when it was built from something else (raises).
    """
    from FlagEmbedding.utils.progress import stage_bar

    stored = store.identity()
    if stored is not None and stored.get("key") != identity["key"] and not overwrite:
        refuse(stored)
    state = read_state(folder, store.NAME, store.collection)
    fresh = overwrite or stored is None
    loaded = 0 if fresh or state.get("key") != identity["key"] else int(state.get("loaded", 0))
    if fresh:
        store.create(identity, dims)
    base = {"backend": store.NAME, "url": store.url, "collection": store.collection, "key": identity["key"]}
    path = state_path(folder, store.NAME, store.collection)
    if loaded >= len(docids) and state.get("complete"):
        logger.info("%s already holds the %d documents of this index.", store, len(docids))
        return
    if loaded:
        logger.info("Resuming the load of %s at document %d of %d.", store, loaded, len(docids))
    with stage_bar(len(docids), f"Loading {store.NAME}", unit="doc", initial=loaded) as bar:
        for start in range(loaded, len(docids), LOAD_BATCH_ROWS):
            end = min(len(docids), start + LOAD_BATCH_ROWS)
            store.upsert(docids[start:end], rows(start, end))
            atomic_write_json(path, {**base, "loaded": end, "complete": False})
            bar.update(end - start)
    atomic_write_json(path, {**base, "loaded": len(docids), "complete": True})


def part_values(parts: Mapping[str, Any], names: Sequence[str], start: int, end: int) -> Dict[str, list]:
    """``{name: per-document values}`` of rows ``start..end`` of the in-process parts ``names`` (dense:
    vectors; sparse: ``{token id: weight}``; colbert: the ``[tokens, dim]`` vectors without padding)."""
    import numpy as np

    out: Dict[str, list] = {}
    rows = range(start, end)
    if "dense" in names:
        out["dense"] = [np.asarray(row, dtype=np.float32) for row in parts["dense"].rows.take(rows)]
    if "sparse" in names:
        matrix = parts["sparse"].matrix
        out["sparse"] = [dict(zip(matrix.indices[matrix.indptr[r]:matrix.indptr[r + 1]].tolist(),
                                  matrix.data[matrix.indptr[r]:matrix.indptr[r + 1]].tolist())) for r in rows]
    if "colbert" in names:
        dim = parts["colbert"].dim
        vectors = []
        for row in parts["colbert"].rows.take(rows):
            tokens = np.asarray(row, dtype=np.float32).reshape(-1, dim)
            real = tokens[np.any(tokens != 0, axis=1)]
            vectors.append(real if len(real) else tokens[:1])  # no token: one zero vector (scores 0, as in memory)
        out["colbert"] = vectors
    return out


def check_store_flags(backend: str, url: Optional[str], collection: Optional[str], faiss_factory: Optional[str],
                      embedding_precision: str = "float32", colbert_precision: str = "float16") -> None:
    """Refuse ``--index_backend`` / ``--index_url`` / ``--index_collection`` values that cannot run (checked
    before any model loads)."""
    if backend not in BACKENDS:
        raise InputError(f"--index_backend must be one of {', '.join(BACKENDS)}, got {backend!r}.")
    if backend == "memory" and (url or collection):
        raise InputError("--index_url and --index_collection apply to --index_backend qdrant or milvus, not memory.")
    if backend != "memory" and faiss_factory not in (None, "", "Flat"):
        raise InputError(f"--faiss_index_factory applies to --index_backend memory; {backend} searches exactly.")
    if backend != "memory" and (embedding_precision, colbert_precision) != ("float32", "float16"):
        raise InputError(f"--embedding_precision / --colbert_precision apply to --index_backend memory; {backend} "
                         "holds float vectors.")
    if collection is not None and (not collection.replace("_", "a").isascii() or
                                   not collection.replace("_", "a").isalnum() or collection[0].isdigit()):
        raise InputError(f"--index_collection {collection!r} must be letters, digits and underscores, not starting "
                         "with a digit (a name both Qdrant and Milvus accept).")


def index_store_args(eval_args: Any) -> Dict[str, Any]:
    """The ``index_*`` arguments of an evaluation's retriever from its ``--index_*`` flags (none for ``memory``;
    the default database is embedded under ``<output_dir>/vector_db``)."""
    backend = getattr(eval_args, "index_backend", "memory")
    if backend == "memory":
        return {}
    url = eval_args.index_url or default_url(backend, os.path.join(eval_args.output_dir, "vector_db"))
    return {"index_backend": backend, "index_url": url, "index_collection": eval_args.index_collection}
