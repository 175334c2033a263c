"""``RetrievalIndex``: dense, M3 sparse, M3 ColBERT and BM25 representations of one corpus, and search.

Layout of an index folder (every part is written atomically; a killed build resumes)::

    folder/index-<key[:16]>.json         # the manifest: what was built, checksums of the files below
    folder/corpus.jsonl                  # docids and texts (unless built with store_corpus=False)
    folder/<fingerprint[:16]>/...        # dense / sparse / colbert shards: the evaluation's corpus cache
    folder/<fingerprint[:16]>/faiss-*.index  # a faiss index of the dense shards (with faiss_factory)
    folder/bm25-<fingerprint[:16]>/...   # the bm25s index (swapped in whole under bm25-<...>.lock)

Integrity (see :mod:`FlagEmbedding.retrieval.manifest`): the cache shards are checked against the cache's own
manifest and re-encoded when damaged; the BM25 files and the faiss file against the checksums of the index
manifests, and rebuilt (with a warning naming the file) when they do not match; a changed ``corpus.jsonl`` or an
edited, damaged or unknown-format manifest is refused with an :class:`~FlagEmbedding.utils.errors.InputError`
naming the file. Nothing is searched that was not checked.

Dense, sparse and ColBERT shards live in :class:`~FlagEmbedding.retrieval.embedding_cache.CorpusEmbeddingCache`
folders (fingerprinted by model, settings and corpus; sparse and ColBERT add a ``representation`` key), so the
dense shards are the very ones the evaluation CLIs cache and reuse. An M3 model encodes each shard once for all
the representations still missing in it (see :mod:`FlagEmbedding.retrieval.corpus_rows`).
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, cast

import numpy as np

from FlagEmbedding.retrieval import colbert as colbert_rows
from FlagEmbedding.retrieval import sparse as sparse_rows
from FlagEmbedding.retrieval.bm25 import BM25Index, BM25Params
from FlagEmbedding.retrieval.colbert import ColbertStore
from FlagEmbedding.retrieval.corpus_rows import ENCODED, encode_rows
from FlagEmbedding.retrieval import stores
from FlagEmbedding.retrieval.dense import DenseIndex, dense_array
from FlagEmbedding.retrieval.embedding_cache import corpus_fingerprint, embedder_fingerprint
from FlagEmbedding.retrieval.fusion import Run, ranked, rrf_fusion, weighted_fusion
from FlagEmbedding.retrieval.index_parts import model_parts, open_parts, read_manifests
from FlagEmbedding.retrieval.manifest import INDEX_FORMAT, index_key, write_manifest
# the names and options below were defined here up to this release; they stay importable from this module
from FlagEmbedding.retrieval.options import (DEFAULT_FUSION_WEIGHTS, DEFAULT_M3_WEIGHTS, FIRST_STAGE,  # noqa: F401
                                             M3_ONLY, METHODS, REPRESENTATIONS, SearchOptions, is_m3)
from FlagEmbedding.retrieval.quantized import QuantizedDenseIndex
from FlagEmbedding.retrieval.sparse import SparseIndex
from FlagEmbedding.utils.errors import InputError, InputTypeError, IntegrityError
from FlagEmbedding.utils.files import atomic_write_jsonl, file_checksum, iter_jsonl
from FlagEmbedding.utils.progress import JobSummary, in_job, in_steps, stage_bar
from FlagEmbedding.utils.typing import Embedder
from FlagEmbedding.utils.validation import check_texts

logger = logging.getLogger(__name__)

CORPUS_FILE = "corpus.jsonl"
#: queries searched per step of the search's progress bar
SEARCH_CHUNK = 1024
#: :meth:`RetrievalIndex.search` shows its bars (encoding queries, searching) for at least this many queries, or
#: always inside a job (a command line, see :class:`~FlagEmbedding.utils.progress.JobSummary`)
QUIET_BELOW_QUERIES = 1000


def storage_settings(embedding_precision: str, colbert_precision: str) -> Dict[str, str]:
    """The precisions an index records in its manifest settings (only those that are not the float default, so
    the keys of indexes built before they existed are unchanged)."""
    return {name: value for name, value, default in (("embedding_precision", embedding_precision, "float32"),
                                                      ("colbert_precision", colbert_precision, "float16"))
            if value != default}


def stored_precisions(manifest: Mapping[str, Any]) -> Dict[str, str]:
    """``embedding_precision`` and ``colbert_precision`` of an index manifest (float defaults when absent)."""
    return {"embedding_precision": "float32", "colbert_precision": "float16", **{
        name: value for name, value in manifest["settings"].items() if name.endswith("_precision")}}


class RetrievalIndex:
    """Searchable representations of one corpus.

    Build with :meth:`build`, reopen with :meth:`load`, query with :meth:`search`. With a database ``store``
    (``backend="qdrant"`` / ``"milvus"``, see :mod:`FlagEmbedding.retrieval.stores`), the representations it
    holds (:attr:`stored`) are searched and scored there, and :meth:`add` / :meth:`delete` change its documents.
    """

    def __init__(self, docids: Sequence[str], embedder: Optional[Embedder] = None, dense: Optional[DenseIndex] = None,
                 sparse: Optional[SparseIndex] = None, colbert: Optional[ColbertStore] = None,
                 bm25: Optional[BM25Index] = None, store: Optional[stores.VectorStore] = None,
                 stored: Sequence[str] = ()):
        self.docids = list(docids)
        self.embedder = embedder
        self.parts: Dict[str, Any] = {name: part for name, part in
                                      (("dense", dense), ("sparse", sparse), ("colbert", colbert), ("bm25", bm25))
                                      if part is not None}
        #: the database collection (``None``: everything in process)
        self.store = store
        #: representations searched in :attr:`store`
        self.stored: Tuple[str, ...] = tuple(stored)

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, folder: str, docids: Sequence[str], texts: Sequence[str], embedder: Optional[Embedder] = None,
              representations: Sequence[str] = ("dense",), faiss_factory: Optional[str] = None,
              shard_rows: int = 100_000, bm25_params: BM25Params = BM25Params(), overwrite: bool = False,
              store_corpus: bool = True, encode_kwargs: Optional[Mapping[str, Any]] = None,
              embedding_precision: str = "float32", colbert_precision: str = "float16", backend: str = "memory",
              url: Optional[str] = None, collection: Optional[str] = None) -> "RetrievalIndex":
        """Encode/index what is missing under ``folder`` (cached parts are reused) and return the index.

        Each stage shows one progress bar (encoding the corpus, BM25, faiss, loading a database), and the build
        ends with one INFO line: ``index in <folder> ready: <representations> of <n> documents, <duration>``.

        Args:
            folder: Index folder (created).
            docids / texts: The corpus, in row order.
            embedder: Any embedder for ``dense``; an M3 model (``BGEM3FlagModel``) for ``sparse`` / ``colbert``.
            representations: Any of :data:`REPRESENTATIONS`.
            faiss_factory: faiss index factory string for dense search (``None``: exact).
            shard_rows: Corpus rows per cache shard (the unit a killed build resumes from).
            bm25_params: ``bm25s`` settings.
            overwrite: Re-encode and re-index everything.
            store_corpus: Write ``corpus.jsonl`` so :meth:`load` needs no corpus.
            encode_kwargs: Extra keyword arguments of ``encode_corpus``.
            embedding_precision: How dense vectors are searched: ``float32`` (the cache shards), ``int8`` /
                ``uint8`` / ``binary`` / ``ubinary`` codes computed from them (see
                :mod:`FlagEmbedding.retrieval.quantized`; not with ``faiss_factory``).
            colbert_precision: ColBERT storage: ``float16`` (padded rows) or unpadded ``int8`` / ``int4`` codes
                (see :mod:`FlagEmbedding.retrieval.colbert`).
            backend: ``memory`` (in process), ``qdrant`` or ``milvus``: the database that holds and searches the
                model representations (Milvus: dense and sparse; see :mod:`FlagEmbedding.retrieval.stores`),
                loaded from the embedding cache in resumable batches.
            url: The database (a server URL, or an embedded database path); default: embedded, under ``folder``.
            collection: Collection name (default: ``flagembedding_`` + the first 16 hex digits of the index's key).

        Raises:
            InputError: (a ``ValueError``) docids and texts of different lengths, repeated docids, an unknown
                representation, or one the embedder cannot produce (none given, or not an M3 model); an unknown
                backend, a faiss factory with a database, or a collection built by another model or settings.
            InputTypeError: (a ``TypeError``) ``texts`` is one str, or holds a non-str.
        """
        job = JobSummary(logger)
        docids, texts = cls._checked_corpus(docids, texts, embedder, representations)
        model = embedder_fingerprint(embedder) if embedder is not None else None
        SearchOptions(embedding_precision=embedding_precision, colbert_precision=colbert_precision)  # checks them
        settings: Dict[str, Any] = {"representations": sorted(set(representations)), "faiss_factory": faiss_factory,
                                    "shard_rows": shard_rows, "bm25": asdict(bm25_params),
                                    **storage_settings(embedding_precision, colbert_precision)}
        corpus = corpus_fingerprint(docids, texts)
        if stores.check_backend(backend) != "memory":
            if faiss_factory not in (None, "", "Flat"):
                raise InputError(f"faiss_factory applies to the memory backend; {backend} searches exactly.")
            if (embedding_precision, colbert_precision) != ("float32", "float16"):
                raise InputError(f"embedding_precision / colbert_precision apply to the memory backend; {backend} "
                                 "holds float vectors (use its own quantization settings on the collection).")
            collection = collection or f"flagembedding_{index_key(INDEX_FORMAT, model, settings, corpus)[:16]}"
            settings["store"] = {"backend": backend, "collection": collection}
        os.makedirs(folder, exist_ok=True)
        parts, files = open_parts(folder, docids, texts, embedder, representations, faiss_factory, shard_rows,
                                       bm25_params, overwrite, dict(encode_kwargs or {}),
                                       read_manifests(folder, strict=False), embedding_precision, colbert_precision)
        store, stored = None, cast(Tuple[str, ...], ())
        if "store" in settings:
            store = stores.open_store(backend, url or stores.default_url(backend, folder), str(collection))
            stored = tuple(name for name in ENCODED if name in parts and name in store.HOLDS)
            identity = {"key": index_key(INDEX_FORMAT, model, settings, corpus), "model": model, "settings": settings}
            stores.load_rows(store, folder, identity, cls._widths(embedder, parts, stored), docids,
                             lambda start, end: stores.part_values(parts, stored, start, end), overwrite,
                             lambda found: cls._refuse(repr(store), found, model, settings))
            parts = {name: part for name, part in parts.items() if name not in stored}
        if store_corpus:
            corpus_path = os.path.join(folder, CORPUS_FILE)
            atomic_write_jsonl(corpus_path, ({"id": d, "text": t} for d, t in zip(docids, texts)))
            files[CORPUS_FILE] = file_checksum(corpus_path)
        write_manifest(folder, model, settings, corpus, len(docids), store_corpus, files)
        job.log(f"index in {folder} ready: {', '.join(settings['representations'])} of {len(docids)} documents"
                + (f" (in {store})" if store is not None else ""))
        return cls(docids, embedder, **parts, store=store, stored=stored)

    @staticmethod
    def _widths(embedder: Any, parts: Mapping[str, Any], names: Sequence[str]) -> Dict[str, int]:
        widths = {"dense": lambda: parts["dense"].exact.dim, "sparse": lambda: parts["sparse"].vocab_size,
                  "colbert": lambda: parts["colbert"].dim}
        return {name: int(widths[name]()) for name in names}

    @classmethod
    def in_memory(cls, docids: Sequence[str], texts: Sequence[str], embedder: Embedder,
                  representations: Sequence[str] = ("dense",),
                  encode_kwargs: Optional[Mapping[str, Any]] = None) -> "RetrievalIndex":
        """An index held in memory only (nothing written, no cache): the corpus is encoded in one pass for every
        model representation (e.g. to evaluate a model while it is being trained); BM25 is built too if asked."""
        docids, texts = cls._checked_corpus(docids, texts, embedder, representations)
        names = [name for name in ENCODED if name in representations]
        rows = encode_rows(embedder, texts, names, is_m3(embedder), dict(encode_kwargs or {})) if names else {}
        parts = model_parts(embedder, {name: [block] for name, block in rows.items()})
        if "bm25" in representations:
            parts["bm25"] = BM25Index.build(texts, BM25Params())
        return cls(docids, embedder, **parts)

    @classmethod
    def _checked_corpus(cls, docids: Sequence[str], texts: Sequence[str], embedder: Any,
                        representations: Sequence[str]) -> Tuple[List[str], List[str]]:
        """``(docids, texts)`` as lists of str, after checking them, ``representations`` and ``embedder``."""
        docids, texts = [str(d) for d in docids], check_texts(texts, "texts")
        if isinstance(texts, str):
            raise InputTypeError("`texts` must be a sequence of str (the corpus), got a single str.")
        if len(docids) != len(texts):
            raise InputError(f"docids has {len(docids)} entries but texts has {len(texts)}.")
        if len(set(docids)) != len(docids):
            raise InputError("docids must be unique.")
        bad = [r for r in representations if r not in REPRESENTATIONS]
        if bad:
            raise InputError(f"representations must be among {', '.join(REPRESENTATIONS)}, got {bad[0]!r}.")
        cls._check_embedder(embedder, representations)
        return docids, list(texts)

    @staticmethod
    def _check_embedder(embedder: Any, representations: Sequence[str]) -> None:
        needs_model = [r for r in representations if r != "bm25"]
        if needs_model and embedder is None:
            raise InputError(f"representations {needs_model} need an embedder (only bm25 works without one).")
        m3_needed = [r for r in representations if r in M3_ONLY]
        if m3_needed and not is_m3(embedder):
            raise InputError(f"{' and '.join(m3_needed)} search needs an M3 model (BGEM3FlagModel, "
                             f"--embedder_model_class encoder-only-m3); {type(embedder).__name__} has only dense "
                             "vectors: use dense, bm25 or hybrid with --hybrid_methods dense bm25.")

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, folder: str, embedder: Optional[Embedder] = None, docids: Optional[Sequence[str]] = None,
             texts: Optional[Sequence[str]] = None, embedding_precision: Optional[str] = None,
             colbert_precision: Optional[str] = None, backend: Optional[str] = None,
             url: Optional[str] = None) -> "RetrievalIndex":
        """Reopen an index built in ``folder`` for ``embedder`` (``None`` for a BM25-only index).

        ``backend``: only an index of this backend (default: the newest index of the embedder, any backend);
        ``url``: the database of a database index (default: the one it was loaded into, or the embedded one under
        ``folder``), whose collection must still hold this index.

        The corpus is read from ``corpus.jsonl`` unless given. Raises
        :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) when no index in the folder was built
        with this embedder and these model settings or over this corpus, and naming the file when a manifest is
        unreadable, edited or of an unknown format, or ``corpus.jsonl`` changed since the build. BM25 / faiss
        files that fail their checksum are rebuilt (logged) and the manifest rewritten; so is a manifest of the
        previous format (1, without file checksums). ``embedding_precision`` / ``colbert_precision``, when given,
        must be the ones the index was built with (an :class:`InputError` says which it holds).
        """
        manifests = read_manifests(folder, strict=True)
        descriptors = list(manifests.items())
        if not descriptors:
            raise InputError(f"{folder}: no index found (no index-*.json); build one with RetrievalIndex.build.")
        model = embedder_fingerprint(embedder) if embedder is not None else None
        if backend is not None:
            descriptors = [(p, d) for p, d in descriptors
                           if d["settings"].get("store", {}).get("backend", "memory") == stores.check_backend(backend)]
            if not descriptors:
                raise InputError(f"{folder}: no index with backend {backend} found; build one with "
                                 f"RetrievalIndex.build(..., backend={backend!r}).")
        matching = [(p, d) for p, d in descriptors if d.get("model") == model]
        if not matching:
            path, descriptor = descriptors[-1]
            cls._refuse(path, descriptor, model)
        wanted = {name: value for name, value in (("embedding_precision", embedding_precision),
                                                  ("colbert_precision", colbert_precision)) if value is not None}
        same = [(p, d) for p, d in matching if all(stored_precisions(d)[n] == v for n, v in wanted.items())]
        path, descriptor = max(same or matching, key=lambda item: os.path.getmtime(item[0]))
        precisions = stored_precisions(descriptor)
        for name, value in wanted.items():
            if precisions[name] != value:
                raise InputError(f"{path}: this index was built with {name} {precisions[name]!r}, not {value!r}; load "
                                 f"it with {name}={precisions[name]!r}, or build it again with {name}={value!r}.")
        if docids is None or texts is None:
            corpus_path = os.path.join(folder, CORPUS_FILE)
            if not os.path.exists(corpus_path):
                raise InputError(f"{folder}: the index was built with store_corpus=False; pass docids and texts.")
            recorded = descriptor.get("files", {}).get(CORPUS_FILE)
            if recorded is not None and file_checksum(corpus_path) != recorded:
                raise IntegrityError(corpus_path, f"does not match the checksum recorded in {path} (changed after "
                                     "the build); restore it, or pass the corpus as docids and texts")
            rows = [row for _, row in iter_jsonl(corpus_path)]
            docids, texts = [r["id"] for r in rows], [r["text"] for r in rows]
        if corpus_fingerprint(docids, texts) != descriptor["corpus"]:
            raise InputError(f"{path}: the index was built over another corpus; pass the corpus it was built from.")
        settings = descriptor["settings"]
        docids, texts = [str(d) for d in docids], check_texts(texts, "texts")
        if isinstance(texts, str):
            raise InputTypeError("`texts` must be a sequence of str (the corpus), got a single str.")
        store, stored, local = None, cast(Tuple[str, ...], ()), settings["representations"]
        if "store" in settings:
            backend, collection = settings["store"]["backend"], settings["store"]["collection"]
            state = stores.read_state(folder, backend, collection)
            store = stores.open_store(backend, url or state.get("url") or stores.default_url(backend, folder),
                                      collection)
            found = store.identity()
            if found is None or found.get("key") != descriptor["key"] or not state.get("complete", True):
                cls._refuse(repr(store), found, descriptor["model"], settings, loading=True)
            stored = tuple(name for name in ENCODED if name in local and name in store.HOLDS)
            local = [name for name in local if name not in stored]
        parts, files = open_parts(folder, docids, texts, embedder, local,
                                       settings["faiss_factory"], settings["shard_rows"],
                                       BM25Params(**settings["bm25"]), overwrite=False, encode_kwargs={},
                                       manifests=manifests, embedding_precision=precisions["embedding_precision"],
                                       colbert_precision=precisions["colbert_precision"])
        store_corpus = bool(descriptor.get("store_corpus", False))
        corpus_path = os.path.join(folder, CORPUS_FILE)
        if store_corpus and os.path.exists(corpus_path):
            files[CORPUS_FILE] = descriptor.get("files", {}).get(CORPUS_FILE) or file_checksum(corpus_path)
        if descriptor["format"] != INDEX_FORMAT or files != descriptor.get("files"):
            new_path = write_manifest(folder, descriptor["model"], settings, descriptor["corpus"], len(docids),
                                      store_corpus, files)
            if os.path.abspath(new_path) != os.path.abspath(path):
                os.remove(path)
            logger.info("%s rewritten as %s (format %d, current checksums).", path, new_path, INDEX_FORMAT)
        return cls(docids, embedder, **parts, store=store, stored=stored)

    @classmethod
    def _refuse(cls, where: str, found: Optional[Mapping[str, Any]], model: Optional[Mapping[str, Any]],
                settings: Optional[Mapping[str, Any]] = None, loading: bool = False) -> None:
        """Raise the :class:`InputError` of an index (``found``: its manifest or its collection's record) built
        with another model than ``model``, or with other ``settings``; ``loading``: the collection does not hold
        the index of the manifest (missing, rebuilt by someone else, or its load did not finish)."""
        if found is None:
            raise InputError(f"{where}: the collection does not hold this index (missing, or its load stopped); "
                             "build the index again with RetrievalIndex.build, or pass the url of its database.")
        built = found.get("model")
        if built == model and (found.get("settings") != settings or loading):
            raise InputError(f"{where}: this index was built with {cls._describe(built)} and other index settings "
                             f"({found.get('settings')!r}); load it with the settings it was built with, or build a "
                             "new index (another collection) for these.")
        raise InputError(f"{where}: this index was built with {cls._describe(built)} and cannot be searched with "
                         f"{cls._describe(model)}{cls._differences(built, model)}; load it with the embedder and "
                         "settings it was built with, or build a new index for this one.")

    @staticmethod
    def _describe(model: Optional[Mapping[str, Any]]) -> str:
        if model is None:
            return "no embedder (BM25 only)"
        return f"{model.get('model')} ({model.get('class', '').rsplit('.', 1)[-1]})"

    @staticmethod
    def _differences(stored: Optional[Mapping[str, Any]], given: Optional[Mapping[str, Any]]) -> str:
        if not stored or not given:
            return ""
        keys = sorted(k for k in set(stored) | set(given) if stored.get(k) != given.get(k))
        return " (different: " + ", ".join(f"{k} {stored.get(k)!r} != {given.get(k)!r}" for k in keys
                                           if k != "weights") + (", model weights" if "weights" in keys else "") + ")"

    # ------------------------------------------------------------------ searching
    @property
    def m3(self) -> bool:
        """Whether the index's embedder is an M3 model."""
        return is_m3(self.embedder)

    def _require(self, names: Sequence[str]) -> None:
        missing = [name for name in names if name not in self.parts and name not in self.stored]
        if missing:
            raise InputError(f"This search needs the {', '.join(missing)} representation(s), which the index does not "
                             f"hold (it holds {', '.join([*self.stored, *self.parts]) or 'nothing'}); build it with "
                             "them.")

    def encode_queries(self, queries: Sequence[str], needed: Sequence[str], **kwargs: Any) -> Dict[str, Any]:
        """Query representations for ``needed`` (one encode call for all model outputs)."""
        reps: Dict[str, Any] = {}
        if "bm25" in needed:
            reps["bm25"] = self.parts["bm25"].tokenize(queries)
        model_needed = [name for name in needed if name != "bm25"]
        if not model_needed:
            return reps
        assert self.embedder is not None  # model representations are only opened with an embedder
        out: Any
        if self.m3:
            out = self.embedder.encode_queries(list(queries), return_dense="dense" in model_needed,
                                               return_sparse="sparse" in model_needed,
                                               return_colbert_vecs="colbert" in model_needed, **kwargs)
        else:
            out = self.embedder.encode_queries(list(queries), **kwargs)
        if "dense" in model_needed:
            reps["dense"] = dense_array(out)
        if "sparse" in model_needed:
            vocab_size = int(cast(Any, self.embedder).model.config.vocab_size)
            reps["sparse"] = sparse_rows.csr_from_dicts(sparse_rows.lexical_dicts(out), vocab_size)
        if "colbert" in model_needed:
            reps["colbert"] = colbert_rows.colbert_vectors(out)
        return reps

    def _query_rep(self, name: str, reps: Mapping[str, Any], position: int) -> Any:
        return reps[name][position:position + 1] if name == "sparse" else reps[name][position]

    def _store_query(self, name: str, reps: Mapping[str, Any], position: int) -> Any:
        """Query ``position``'s ``name`` value as the store takes it (sparse: ``{token id: weight}``)."""
        value = self._query_rep(name, reps, position)
        return dict(zip(value.indices.tolist(), value.data.tolist())) if name == "sparse" else value

    def _store_queries(self, name: str, reps: Mapping[str, Any]) -> List[Any]:
        return [self._store_query(name, reps, i) for i in range(reps[name].shape[0] if name != "colbert"
                                                                 else len(reps[name]))]

    def score(self, name: str, reps: Mapping[str, Any], position: int, docids: Sequence[str]) -> np.ndarray:
        """Exact ``name`` scores of query ``position`` against ``docids``."""
        if name in self.stored:
            assert self.store is not None  # stored names come with a store
            return self.store.score(name, self._store_query(name, reps, position), docids)
        rows = [self._row[doc] for doc in docids]
        return self.parts[name].score(self._query_rep(name, reps, position), rows)

    @property
    def _row(self) -> Dict[str, int]:
        if not hasattr(self, "_rows"):
            self._rows = {doc: row for row, doc in enumerate(self.docids)}
        return self._rows

    def first_stage(self, name: str, reps: Mapping[str, Any], k: int, options: Optional[SearchOptions] = None) -> Run:
        """``{query position: {docid: score}}`` of the ``k`` best documents by ``name`` alone (binary dense codes:
        the ``options.rescore_multiplier x k`` nearest rescored)."""
        if name in self.stored:
            assert self.store is not None  # stored names come with a store
            return {str(i): hits for i, hits in enumerate(self.store.search(name, self._store_queries(name, reps), k))}
        part = self.parts[name]
        extra = ({"rescore_multiplier": options.rescore_multiplier}
                 if options is not None and isinstance(part, QuantizedDenseIndex) else {})
        scores, rows = part.search(reps[name], k, **extra)
        return {str(i): {self.docids[r]: float(s) for s, r in zip(row_scores, row_ids) if r >= 0}
                for i, (row_scores, row_ids) in enumerate(zip(scores, rows))}

    def rerank(self, run: Run, depth: int, score: Any) -> Run:
        """Rescore the ``depth`` best hits of each query with ``score(position, docids)``; deeper hits keep
        their order below the lowest new score."""
        out: Run = {}
        for qkey, hits in run.items():
            docs = ranked(hits)
            head = dict(zip(docs[:depth], score(int(qkey), docs[:depth]).tolist())) if docs else {}
            floor = min(head.values(), default=0.0)
            out[qkey] = {**head, **{doc: floor - position for position, doc in enumerate(docs[depth:], start=1)}}
        return out

    def hybrid(self, reps: Mapping[str, Any], k: int, options: SearchOptions) -> Run:
        """Fusion of the first-stage runs of ``options``' hybrid methods, cut to ``k`` per query."""
        methods = options.resolved_hybrid_methods(self.m3)
        in_store = options.fusion == "rrf" and self.store is not None and all(m in self.stored for m in methods)
        database = self.store.rrf({m: self._store_queries(m, reps) for m in methods}, k, options.rrf_k) \
            if in_store and self.store is not None else None
        runs = [] if database is not None else [self.first_stage(name, reps, k, options) for name in methods]
        if database is not None:
            fused = {str(i): hits for i, hits in enumerate(database)}
        elif options.fusion == "rrf":
            fused = rrf_fusion(runs, options.rrf_k)
        else:
            complete = []
            for name, run in zip(methods, runs):
                table: Run = {}
                for qkey in run:
                    union = list(dict.fromkeys(doc for other in runs for doc in other[qkey]))
                    table[qkey] = dict(zip(union, self.score(name, reps, int(qkey), union).tolist()))
                complete.append(table)
            fused = weighted_fusion(complete, options.resolved_fusion_weights(methods))
        return {qkey: {doc: hits[doc] for doc in ranked(hits, k)} for qkey, hits in fused.items()}

    def search(self, queries: Sequence[str], top_k: int = 10, options: Optional[SearchOptions] = None,
               encode_kwargs: Optional[Mapping[str, Any]] = None) -> Tuple[List[List[str]], List[List[float]]]:
        """Search ``queries``; returns ``(docids, scores)`` per query, best first (at most ``top_k`` each).

        ``options`` (default: dense) picks the method: ``dense``, ``sparse``, ``bm25`` (first stage alone),
        ``colbert`` (dense top ``top_k`` with its ``rerank_top_k`` best reranked by the ColBERT score),
        ``hybrid`` (fusion of ``hybrid_methods``) or ``all`` (hybrid candidates, the ``rerank_top_k`` best
        reranked by ``m3_weights`` . (dense, sparse, colbert)).

        Raises :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) for a ``top_k`` below 1 or a
        method needing a representation the index does not hold, and
        :class:`~FlagEmbedding.utils.errors.InputTypeError` (a ``TypeError``) when ``queries`` is one str or
        holds a non-str.

        Progress: one bar while the queries are encoded, one while they are searched (in steps of
        :data:`SEARCH_CHUNK` queries); shown for :data:`QUIET_BELOW_QUERIES` queries or more, and always inside a
        command-line job.
        """
        options = options or SearchOptions()
        if top_k <= 0:
            raise InputError(f"top_k must be a positive integer, got {top_k}.")
        queries = check_texts(queries, "queries")
        if isinstance(queries, str):
            raise InputTypeError("`queries` must be a sequence of str (a list of queries), got a single str.")
        needed = options.representations(self.m3)
        self._require(needed)
        quiet = not in_job() and len(queries) < QUIET_BELOW_QUERIES
        with stage_bar(len(queries), "Encoding queries", unit="query", disable=quiet):
            reps = self.encode_queries(queries, needed, **dict(encode_kwargs or {}))
        ids, scores = [], []
        for start, end in in_steps(len(queries), SEARCH_CHUNK, "Searching", unit="query", disable=quiet):
            run = self._search_encoded({name: value[start:end] for name, value in reps.items()}, top_k, options)
            for position in range(end - start):
                hits = run.get(str(position), {})
                docs = ranked(hits, top_k)
                ids.append(docs)
                scores.append([hits[doc] for doc in docs])
        return ids, scores

    def _search_encoded(self, reps: Mapping[str, Any], top_k: int, options: SearchOptions) -> Run:
        """``{query position: {docid: score}}`` of the queries encoded in ``reps`` (see :meth:`search`)."""
        method = options.method
        if method in FIRST_STAGE:
            run = self.first_stage(method, reps, top_k, options)
        elif method == "colbert":
            run = self.rerank(self.first_stage("dense", reps, top_k, options), options.rerank_top_k,
                              lambda i, docs: self.score("colbert", reps, i, docs))
        else:
            run = self.hybrid(reps, top_k, options)
            if method == "all":
                w_dense, w_sparse, w_colbert = options.m3_weights
                run = self.rerank(run, options.rerank_top_k, lambda i, docs: (
                    w_dense * self.score("dense", reps, i, docs) + w_sparse * self.score("sparse", reps, i, docs)
                    + w_colbert * self.score("colbert", reps, i, docs)))
        return run

    # ------------------------------------------------------------------ changing a database index
    def _check_editable(self) -> stores.VectorStore:
        if self.store is None:
            raise InputError("add and delete need a database index (backend qdrant or milvus); the memory backend "
                             "is rebuild-only: build the index again over the new corpus.")
        if self.parts:
            raise InputError(f"add and delete change the {self.store.NAME} collection only, and this index also "
                             f"holds {', '.join(self.parts)} in process (rebuilt with the corpus); build the index "
                             "again over the new corpus instead.")
        return self.store

    def add(self, docids: Sequence[str], texts: Sequence[str],
            encode_kwargs: Optional[Mapping[str, Any]] = None) -> None:
        """Encode ``texts`` and insert them into the database as documents ``docids`` (a document id already in
        it is replaced). ``corpus.jsonl`` and the manifest keep describing the corpus the index was built from.

        Raises :class:`~FlagEmbedding.utils.errors.InputError` for a memory index (rebuild-only) or one holding
        representations in process (BM25; ColBERT with Milvus), and for docids and texts that do not match.
        """
        store = self._check_editable()
        docids, texts = self._checked_corpus(docids, texts, self.embedder, self.stored)
        rows = encode_rows(self.embedder, texts, self.stored, self.m3, dict(encode_kwargs or {}))
        parts = model_parts(self.embedder, {name: [block] for name, block in rows.items()})
        for start in range(0, len(docids), stores.LOAD_BATCH_ROWS):
            end = min(len(docids), start + stores.LOAD_BATCH_ROWS)
            store.upsert(docids[start:end], stores.part_values(parts, self.stored, start, end))
        known = set(self.docids)
        self.docids.extend(d for d in docids if d not in known)
        self.__dict__.pop("_rows", None)

    def delete(self, docids: Sequence[str]) -> None:
        """Remove documents ``docids`` from the database (unknown ids are ignored); same refusals as :meth:`add`."""
        store = self._check_editable()
        if isinstance(docids, str):
            raise InputTypeError("`docids` must be a sequence of str, got a single str.")
        gone = {str(d) for d in docids}
        store.delete(sorted(gone))
        self.docids = [d for d in self.docids if d not in gone]
        self.__dict__.pop("_rows", None)
