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
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from FlagEmbedding.retrieval import colbert as colbert_rows
from FlagEmbedding.retrieval import sparse as sparse_rows
from FlagEmbedding.retrieval.bm25 import BM25Index, BM25Params
from FlagEmbedding.retrieval.colbert import ColbertStore
from FlagEmbedding.retrieval.corpus_rows import ENCODED, encode_rows
from FlagEmbedding.retrieval.dense import DenseIndex, dense_array
from FlagEmbedding.retrieval.embedding_cache import corpus_fingerprint, embedder_fingerprint
from FlagEmbedding.retrieval.fusion import Run, ranked, rrf_fusion, weighted_fusion
from FlagEmbedding.retrieval.index_parts import model_parts, open_parts, read_manifests
from FlagEmbedding.retrieval.manifest import INDEX_FORMAT, write_manifest
# the names and options below were defined here up to this release; they stay importable from this module
from FlagEmbedding.retrieval.options import (DEFAULT_FUSION_WEIGHTS, DEFAULT_M3_WEIGHTS, FIRST_STAGE,  # noqa: F401
                                             M3_ONLY, METHODS, REPRESENTATIONS, SearchOptions, is_m3)
from FlagEmbedding.retrieval.quantized import QuantizedDenseIndex
from FlagEmbedding.retrieval.sparse import SparseIndex
from FlagEmbedding.utils.errors import InputError, InputTypeError, IntegrityError
from FlagEmbedding.utils.files import atomic_write_jsonl, file_checksum, iter_jsonl
from FlagEmbedding.utils.typing import Embedder
from FlagEmbedding.utils.validation import check_texts

logger = logging.getLogger(__name__)

CORPUS_FILE = "corpus.jsonl"


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

    Build with :meth:`build`, reopen with :meth:`load`, query with :meth:`search`.
    """

    def __init__(self, docids: Sequence[str], embedder: Optional[Embedder] = None, dense: Optional[DenseIndex] = None,
                 sparse: Optional[SparseIndex] = None, colbert: Optional[ColbertStore] = None,
                 bm25: Optional[BM25Index] = None):
        self.docids = list(docids)
        self.embedder = embedder
        self.parts: Dict[str, Any] = {name: part for name, part in
                                      (("dense", dense), ("sparse", sparse), ("colbert", colbert), ("bm25", bm25))
                                      if part is not None}

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, folder: str, docids: Sequence[str], texts: Sequence[str], embedder: Optional[Embedder] = None,
              representations: Sequence[str] = ("dense",), faiss_factory: Optional[str] = None,
              shard_rows: int = 100_000, bm25_params: BM25Params = BM25Params(), overwrite: bool = False,
              store_corpus: bool = True, encode_kwargs: Optional[Mapping[str, Any]] = None,
              embedding_precision: str = "float32", colbert_precision: str = "float16") -> "RetrievalIndex":
        """Encode/index what is missing under ``folder`` (cached parts are reused) and return the index.

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

        Raises:
            InputError: (a ``ValueError``) docids and texts of different lengths, repeated docids, an unknown
                representation, or one the embedder cannot produce (none given, or not an M3 model).
            InputTypeError: (a ``TypeError``) ``texts`` is one str, or holds a non-str.
        """
        docids, texts = cls._checked_corpus(docids, texts, embedder, representations)
        model = embedder_fingerprint(embedder) if embedder is not None else None
        SearchOptions(embedding_precision=embedding_precision, colbert_precision=colbert_precision)  # checks them
        settings = {"representations": sorted(set(representations)), "faiss_factory": faiss_factory,
                    "shard_rows": shard_rows, "bm25": asdict(bm25_params),
                    **storage_settings(embedding_precision, colbert_precision)}
        corpus = corpus_fingerprint(docids, texts)
        os.makedirs(folder, exist_ok=True)
        parts, files = open_parts(folder, docids, texts, embedder, representations, faiss_factory, shard_rows,
                                       bm25_params, overwrite, dict(encode_kwargs or {}),
                                       read_manifests(folder, strict=False), embedding_precision, colbert_precision)
        if store_corpus:
            corpus_path = os.path.join(folder, CORPUS_FILE)
            atomic_write_jsonl(corpus_path, ({"id": d, "text": t} for d, t in zip(docids, texts)))
            files[CORPUS_FILE] = file_checksum(corpus_path)
        write_manifest(folder, model, settings, corpus, len(docids), store_corpus, files)
        return cls(docids, embedder, **parts)

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
             colbert_precision: Optional[str] = None) -> "RetrievalIndex":
        """Reopen an index built in ``folder`` for ``embedder`` (``None`` for a BM25-only index).

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
        matching = [(p, d) for p, d in descriptors if d.get("model") == model]
        if not matching:
            path, descriptor = descriptors[-1]
            raise InputError(f"{path}: this index was built with {cls._describe(descriptor.get('model'))} and "
                             f"cannot be searched with {cls._describe(model)}"
                             f"{cls._differences(descriptor.get('model'), model)}; load it with the embedder and "
                             "settings it was built with, or build a new index for this one.")
        wanted = {name: value for name, value in (("embedding_precision", embedding_precision),
                                                  ("colbert_precision", colbert_precision)) if value is not None}
        same = [(p, d) for p, d in matching if all(stored_precisions(d)[n] == v for n, v in wanted.items())]
        path, descriptor = max(same or matching, key=lambda item: os.path.getmtime(item[0]))
        stored = stored_precisions(descriptor)
        for name, value in wanted.items():
            if stored[name] != value:
                raise InputError(f"{path}: this index was built with {name} {stored[name]!r}, not {value!r}; load "
                                 f"it with {name}={stored[name]!r}, or build it again with {name}={value!r}.")
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
        parts, files = open_parts(folder, docids, texts, embedder, settings["representations"],
                                       settings["faiss_factory"], settings["shard_rows"],
                                       BM25Params(**settings["bm25"]), overwrite=False, encode_kwargs={},
                                       manifests=manifests, embedding_precision=stored["embedding_precision"],
                                       colbert_precision=stored["colbert_precision"])
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
        return cls(docids, embedder, **parts)

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
        missing = [name for name in names if name not in self.parts]
        if missing:
            raise InputError(f"This search needs the {', '.join(missing)} representation(s), which the index does not "
                             f"hold (it holds {', '.join(self.parts) or 'nothing'}); build it with them.")

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
            reps["sparse"] = self.parts["sparse"].queries(sparse_rows.lexical_dicts(out))
        if "colbert" in model_needed:
            reps["colbert"] = colbert_rows.colbert_vectors(out)
        return reps

    def _query_rep(self, name: str, reps: Mapping[str, Any], position: int) -> Any:
        return reps[name][position:position + 1] if name == "sparse" else reps[name][position]

    def score(self, name: str, reps: Mapping[str, Any], position: int, docids: Sequence[str]) -> np.ndarray:
        """Exact ``name`` scores of query ``position`` against ``docids``."""
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
        runs = [self.first_stage(name, reps, k, options) for name in methods]
        if options.fusion == "rrf":
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
        """
        options = options or SearchOptions()
        if top_k <= 0:
            raise InputError(f"top_k must be a positive integer, got {top_k}.")
        queries = check_texts(queries, "queries")
        if isinstance(queries, str):
            raise InputTypeError("`queries` must be a sequence of str (a list of queries), got a single str.")
        needed = options.representations(self.m3)
        self._require(needed)
        reps = self.encode_queries(queries, needed, **dict(encode_kwargs or {}))
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
        ids, scores = [], []
        for position in range(len(queries)):
            hits = run.get(str(position), {})
            docs = ranked(hits, top_k)
            ids.append(docs)
            scores.append([hits[doc] for doc in docs])
        return ids, scores
