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

import glob
import logging
import math
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

import numpy as np

from FlagEmbedding.retrieval.embedding_cache import corpus_fingerprint, embedder_fingerprint
from FlagEmbedding.utils.typing import Embedder
from FlagEmbedding.utils.validation import check_texts
from FlagEmbedding.retrieval import colbert as colbert_rows
from FlagEmbedding.retrieval import sparse as sparse_rows
from FlagEmbedding.retrieval.bm25 import BM25Index, BM25Params
from FlagEmbedding.retrieval.colbert import ColbertStore
from FlagEmbedding.retrieval.corpus_rows import ENCODED, colbert_dim, encode_rows, load_or_encode_rows
from FlagEmbedding.retrieval.dense import DenseIndex, dense_array
from FlagEmbedding.retrieval.fusion import FUSIONS, Run, ranked, rrf_fusion, weighted_fusion
from FlagEmbedding.retrieval.manifest import (INDEX_FORMAT, MANIFEST_PREFIX, read_manifest, recorded_checksums,
                                              write_manifest)
from FlagEmbedding.retrieval.sparse import SparseIndex
from FlagEmbedding.utils.errors import InputError, IntegrityError
from FlagEmbedding.utils.files import atomic_write_jsonl, file_checksum

logger = logging.getLogger(__name__)


CORPUS_FILE = "corpus.jsonl"
#: representations an index can hold
REPRESENTATIONS = ("dense", "sparse", "colbert", "bm25")
#: methods that produce candidates on their own (``colbert`` only reranks)
FIRST_STAGE = ("dense", "sparse", "bm25")
#: every search method
METHODS = ("dense", "sparse", "colbert", "bm25", "hybrid", "all")
#: representations only an M3 model provides
M3_ONLY = ("sparse", "colbert")
#: default per-method weights of weighted fusion (dense 1 and sparse 0.3 as in the M3 paper; BM25 scores are
#: about 30x larger than cosine similarities, hence 0.03)
DEFAULT_FUSION_WEIGHTS = {"dense": 1.0, "sparse": 0.3, "bm25": 0.03}
#: the M3 paper's "All" weights for dense, sparse and ColBERT scores
DEFAULT_M3_WEIGHTS = (1.0, 0.3, 1.0)


def is_m3(embedder: Any) -> bool:
    """Whether ``embedder`` produces M3 lexical weights and ColBERT vectors."""
    return embedder is not None and hasattr(embedder, "compute_lexical_matching_score")


@dataclass
class SearchOptions:
    """How :meth:`RetrievalIndex.search` ranks (see the evaluation flags of the same names)."""

    method: str = "dense"
    hybrid_methods: Optional[List[str]] = None
    fusion: str = "weighted"
    fusion_weights: Optional[List[float]] = None
    rrf_k: int = 60
    m3_weights: List[float] = field(default_factory=lambda: list(DEFAULT_M3_WEIGHTS))
    rerank_top_k: int = 100

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        if self.fusion not in FUSIONS:
            raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {self.fusion!r}.")
        if self.hybrid_methods is not None:
            bad = [m for m in self.hybrid_methods if m not in FIRST_STAGE]
            if bad or len(set(self.hybrid_methods)) < 2:
                raise ValueError(f"hybrid_methods must be two or more of {', '.join(FIRST_STAGE)}, "
                                 f"got {self.hybrid_methods}.")
            if self.fusion_weights is not None and len(self.fusion_weights) != len(self.hybrid_methods):
                raise ValueError(f"fusion_weights has {len(self.fusion_weights)} values for "
                                 f"{len(self.hybrid_methods)} hybrid_methods.")
        if len(self.m3_weights) != 3:
            raise ValueError(f"m3_weights must be 3 values (dense, sparse, colbert), got {self.m3_weights}.")
        for name in ("fusion_weights", "m3_weights"):
            weights = getattr(self, name)
            if weights is None:
                continue
            if not all(math.isfinite(float(w)) and float(w) >= 0 for w in weights):
                raise ValueError(f"{name} must be finite numbers >= 0, got {' '.join(str(w) for w in weights)}.")
            if not any(weights):
                raise ValueError(f"{name} must not all be 0 (every fused score would be 0).")
        if self.rrf_k < 0 or self.rerank_top_k <= 0:
            raise ValueError(f"rrf_k must be >= 0 and rerank_top_k > 0, got {self.rrf_k} and {self.rerank_top_k}.")

    def resolved_hybrid_methods(self, m3: bool) -> List[str]:
        """``hybrid_methods``, defaulting to dense + sparse for an M3 model and dense + BM25 otherwise."""
        if self.hybrid_methods is not None:
            return list(self.hybrid_methods)
        return ["dense", "sparse"] if m3 else ["dense", "bm25"]

    def resolved_fusion_weights(self, methods: Sequence[str]) -> List[float]:
        """``fusion_weights``, defaulting to :data:`DEFAULT_FUSION_WEIGHTS` (``ValueError`` when their count is not
        the number of ``methods``, e.g. for the default ``hybrid_methods`` of the model)."""
        if self.fusion_weights is not None:
            if len(self.fusion_weights) != len(methods):
                raise ValueError(f"fusion_weights has {len(self.fusion_weights)} values for the {len(methods)} methods "
                                 f"fused ({' '.join(methods)}).")
            return [float(w) for w in self.fusion_weights]
        return [DEFAULT_FUSION_WEIGHTS[m] for m in methods]

    def representations(self, m3: bool) -> List[str]:
        """The representations this search needs."""
        if self.method in ("dense", "sparse", "bm25"):
            return [self.method]
        if self.method == "colbert":
            return ["dense", "colbert"]
        needed = self.resolved_hybrid_methods(m3)
        if self.method == "all":
            needed = needed + ["dense", "sparse", "colbert"]
        return list(dict.fromkeys(needed))

    def tag(self, m3: bool) -> str:
        """A folder-safe name of these options (``dense`` for the default), e.g. ``hybrid-rrf60-dense+bm25``."""
        if self.method in ("dense", "sparse", "bm25"):
            return self.method
        if self.method == "colbert":
            return f"colbert-top{self.rerank_top_k}"
        methods = self.resolved_hybrid_methods(m3)
        if self.fusion == "rrf":
            hybrid = f"hybrid-rrf{self.rrf_k}-" + "+".join(methods)
        else:
            weights = self.resolved_fusion_weights(methods)
            hybrid = "hybrid-weighted-" + "+".join(f"{m}={self._number(w)}" for m, w in zip(methods, weights))
        if self.method == "hybrid":
            return hybrid
        m3_weights = "-".join(self._number(w) for w in self.m3_weights)
        return f"all{m3_weights}-top{self.rerank_top_k}-{hybrid[len('hybrid-'):]}"

    @staticmethod
    def _number(value: float) -> str:
        """``value`` in a tag: ``%g`` (``1``, ``0.3``) when that is exact, else every digit (``0.30000001``), so two
        settings that rank differently never share a name."""
        short = f"{float(value):g}"
        return short if float(short) == float(value) else repr(float(value))


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
              store_corpus: bool = True, encode_kwargs: Optional[Mapping[str, Any]] = None) -> "RetrievalIndex":
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
        """
        docids, texts = cls._checked_corpus(docids, texts, embedder, representations)
        model = embedder_fingerprint(embedder) if embedder is not None else None
        settings = {"representations": sorted(set(representations)), "faiss_factory": faiss_factory,
                    "shard_rows": shard_rows, "bm25": asdict(bm25_params)}
        corpus = corpus_fingerprint(docids, texts)
        os.makedirs(folder, exist_ok=True)
        parts, files = cls._open_parts(folder, docids, texts, embedder, representations, faiss_factory, shard_rows,
                                       bm25_params, overwrite, dict(encode_kwargs or {}),
                                       cls._manifests(folder, strict=False))
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
        parts = cls._model_parts(embedder, {name: [block] for name, block in rows.items()})
        if "bm25" in representations:
            parts["bm25"] = BM25Index.build(texts, BM25Params())
        return cls(docids, embedder, **parts)

    @classmethod
    def _checked_corpus(cls, docids: Sequence[str], texts: Sequence[str], embedder: Any,
                        representations: Sequence[str]) -> Tuple[List[str], List[str]]:
        """``(docids, texts)`` as lists of str, after checking them, ``representations`` and ``embedder``."""
        docids, texts = [str(d) for d in docids], check_texts(texts, "texts")
        if isinstance(texts, str):
            raise TypeError("`texts` must be a sequence of str (the corpus), got a single str.")
        if len(docids) != len(texts):
            raise ValueError(f"docids has {len(docids)} entries but texts has {len(texts)}.")
        if len(set(docids)) != len(docids):
            raise ValueError("docids must be unique.")
        bad = [r for r in representations if r not in REPRESENTATIONS]
        if bad:
            raise ValueError(f"representations must be among {', '.join(REPRESENTATIONS)}, got {bad[0]!r}.")
        cls._check_embedder(embedder, representations)
        return docids, list(texts)

    @staticmethod
    def _check_embedder(embedder: Any, representations: Sequence[str]) -> None:
        needs_model = [r for r in representations if r != "bm25"]
        if needs_model and embedder is None:
            raise ValueError(f"representations {needs_model} need an embedder (only bm25 works without one).")
        m3_needed = [r for r in representations if r in M3_ONLY]
        if m3_needed and not is_m3(embedder):
            raise ValueError(f"{' and '.join(m3_needed)} search needs an M3 model (BGEM3FlagModel, "
                             f"--embedder_model_class encoder-only-m3); {type(embedder).__name__} has only dense "
                             "vectors: use dense, bm25 or hybrid with --hybrid_methods dense bm25.")

    @staticmethod
    def _model_parts(embedder: Any, blocks: Mapping[str, Sequence[np.ndarray]], faiss_factory: Optional[str] = None,
                     faiss_path: Optional[str] = None, reuse_faiss: bool = True) -> Dict[str, Any]:
        """Searchable dense / sparse / ColBERT parts over their cache rows (row blocks, corpus order)."""
        parts: Dict[str, Any] = {}
        if "dense" in blocks:
            parts["dense"] = DenseIndex(blocks["dense"], faiss_factory=faiss_factory, faiss_path=faiss_path,
                                        reuse_saved=reuse_faiss)
        if "sparse" in blocks:
            parts["sparse"] = SparseIndex(sparse_rows.csr_from_padded(blocks["sparse"],
                                                                      int(embedder.model.config.vocab_size)))
        if "colbert" in blocks:
            parts["colbert"] = ColbertStore(blocks["colbert"], colbert_dim(embedder))
        return parts

    @staticmethod
    def _manifests(folder: str, strict: bool) -> Dict[str, Dict[str, Any]]:
        """``{path: content}`` of the manifests in ``folder``. ``strict``: an unreadable one raises (naming it);
        otherwise it is skipped with a warning (a build writes its own manifest anew)."""
        manifests = {}
        for path in sorted(glob.glob(os.path.join(folder, f"{MANIFEST_PREFIX}*.json"))):
            try:
                manifests[path] = read_manifest(path)
            except InputError as error:
                if strict:
                    raise
                logger.warning("%s Its checksums are not used.", error)
        return manifests

    @staticmethod
    def _open_parts(folder: str, docids: List[str], texts: List[str], embedder: Any, representations: Sequence[str],
                    faiss_factory: Optional[str], shard_rows: int, bm25_params: BM25Params, overwrite: bool,
                    encode_kwargs: Dict[str, Any],
                    manifests: Mapping[str, Mapping[str, Any]]) -> Tuple[Dict[str, Any], Dict[str, str]]:
        """The searchable parts and ``{path relative to folder: checksum}`` of the BM25 and faiss files they use.
        A saved BM25 folder or faiss file is reused only when every file matches a checksum that ``manifests``
        record; otherwise it is rebuilt from the corpus / the dense shards (a warning names the file)."""
        def relative(path: str) -> str:
            return os.path.relpath(path, folder).replace(os.sep, "/")

        def trusted(path: str, checksum: str) -> bool:
            return checksum in recorded_checksums(manifests.values(), relative(path))

        rows = load_or_encode_rows(folder, docids, texts, embedder, representations, is_m3(embedder), shard_rows,
                                   overwrite, encode_kwargs)
        files: Dict[str, str] = {}
        faiss_path, reuse_faiss = None, False
        if "dense" in rows and faiss_factory not in (None, "", "Flat"):
            faiss_path = os.path.join(rows["dense"][0].path, DenseIndex.faiss_file_name(faiss_factory))
            reuse_faiss = not overwrite and os.path.exists(faiss_path)
            if reuse_faiss and not trusted(faiss_path, file_checksum(faiss_path)):
                logger.warning("%s; rebuilding the faiss index.", IntegrityError(faiss_path))
                reuse_faiss = False
        parts = RetrievalIndex._model_parts(embedder, {name: blocks for name, (_, blocks) in rows.items()},
                                            faiss_factory, faiss_path, reuse_faiss)
        if faiss_path is not None:
            files[relative(faiss_path)] = file_checksum(faiss_path)
        if "bm25" in representations:
            path = os.path.join(folder, f"bm25-{bm25_params.fingerprint(corpus_fingerprint(docids, texts))[:16]}")
            bm25 = None
            if os.path.isdir(path) and not overwrite:
                try:
                    bm25 = BM25Index.load(path, bm25_params,
                                          lambda name, checksum: trusted(os.path.join(path, name), checksum))
                except IntegrityError as error:
                    logger.warning("%s; rebuilding the BM25 index.", error)
            if bm25 is None:
                bm25 = BM25Index.build(texts, bm25_params)
                bm25.save(path)
            if bm25.ntotal != len(docids):
                raise InputError(f"{path} indexes {bm25.ntotal} passages, the corpus has {len(docids)}; "
                                 "delete it to rebuild.")
            parts["bm25"] = bm25
            assert bm25.checksums is not None  # set by load() and by save()
            files.update({relative(os.path.join(path, name)): checksum for name, checksum in bm25.checksums.items()})
        return parts, files

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, folder: str, embedder: Optional[Embedder] = None, docids: Optional[Sequence[str]] = None,
             texts: Optional[Sequence[str]] = None) -> "RetrievalIndex":
        """Reopen an index built in ``folder`` for ``embedder`` (``None`` for a BM25-only index).

        The corpus is read from ``corpus.jsonl`` unless given. Raises ``ValueError`` when no index in the
        folder was built with this embedder and these model settings, and
        :class:`~FlagEmbedding.utils.errors.InputError` (a ``ValueError``) naming the file when a manifest is
        unreadable, edited or of an unknown format, or ``corpus.jsonl`` changed since the build. BM25 / faiss
        files that fail their checksum are rebuilt (logged) and the manifest rewritten; so is a manifest of the
        previous format (1, without file checksums).
        """
        manifests = cls._manifests(folder, strict=True)
        descriptors = list(manifests.items())
        if not descriptors:
            raise ValueError(f"{folder}: no index found (no index-*.json); build one with RetrievalIndex.build.")
        model = embedder_fingerprint(embedder) if embedder is not None else None
        matching = [(p, d) for p, d in descriptors if d.get("model") == model]
        if not matching:
            path, descriptor = descriptors[-1]
            raise ValueError(f"{path}: this index was built with {cls._describe(descriptor.get('model'))} and "
                             f"cannot be searched with {cls._describe(model)}"
                             f"{cls._differences(descriptor.get('model'), model)}; load it with the embedder and "
                             "settings it was built with, or build a new index for this one.")
        path, descriptor = max(matching, key=lambda item: os.path.getmtime(item[0]))
        if docids is None or texts is None:
            corpus_path = os.path.join(folder, CORPUS_FILE)
            if not os.path.exists(corpus_path):
                raise ValueError(f"{folder}: the index was built with store_corpus=False; pass docids and texts.")
            recorded = descriptor.get("files", {}).get(CORPUS_FILE)
            if recorded is not None and file_checksum(corpus_path) != recorded:
                raise IntegrityError(corpus_path, f"does not match the checksum recorded in {path} (changed after "
                                     "the build); restore it, or pass the corpus as docids and texts")
            from FlagEmbedding.utils.files import iter_jsonl

            rows = [row for _, row in iter_jsonl(corpus_path)]
            docids, texts = [r["id"] for r in rows], [r["text"] for r in rows]
        if corpus_fingerprint(docids, texts) != descriptor["corpus"]:
            raise ValueError(f"{path}: the index was built over another corpus; pass the corpus it was built from.")
        settings = descriptor["settings"]
        docids, texts = [str(d) for d in docids], check_texts(texts, "texts")
        if isinstance(texts, str):
            raise TypeError("`texts` must be a sequence of str (the corpus), got a single str.")
        parts, files = cls._open_parts(folder, docids, texts, embedder, settings["representations"],
                                       settings["faiss_factory"], settings["shard_rows"],
                                       BM25Params(**settings["bm25"]), overwrite=False, encode_kwargs={},
                                       manifests=manifests)
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
            raise ValueError(f"This search needs the {', '.join(missing)} representation(s), which the index does not "
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

    def first_stage(self, name: str, reps: Mapping[str, Any], k: int) -> Run:
        """``{query position: {docid: score}}`` of the ``k`` best documents by ``name`` alone."""
        scores, rows = self.parts[name].search(reps[name], k)
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
        runs = [self.first_stage(name, reps, k) for name in methods]
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
        """
        options = options or SearchOptions()
        if top_k <= 0:
            raise ValueError(f"top_k must be a positive integer, got {top_k}.")
        queries = check_texts(queries, "queries")
        if isinstance(queries, str):
            raise TypeError("`queries` must be a sequence of str (a list of queries), got a single str.")
        needed = options.representations(self.m3)
        self._require(needed)
        reps = self.encode_queries(queries, needed, **dict(encode_kwargs or {}))
        method = options.method
        if method in FIRST_STAGE:
            run = self.first_stage(method, reps, top_k)
        elif method == "colbert":
            run = self.rerank(self.first_stage("dense", reps, top_k), options.rerank_top_k,
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
