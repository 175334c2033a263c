"""The searchable parts of a :class:`~FlagEmbedding.retrieval.index.RetrievalIndex` (dense, sparse, ColBERT, BM25),
opened from an index folder or built over encoded rows, and the index manifests that vouch for their files (see
:mod:`FlagEmbedding.retrieval.manifest`)."""
from __future__ import annotations

import glob
import logging
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from FlagEmbedding.retrieval import sparse as sparse_rows
from FlagEmbedding.retrieval.bm25 import BM25Index, BM25Params
from FlagEmbedding.retrieval.colbert import ColbertStore, TokenColbertStore
from FlagEmbedding.retrieval.corpus_rows import colbert_dim, load_or_encode_rows
from FlagEmbedding.retrieval.dense import DenseIndex
from FlagEmbedding.retrieval.embedding_cache import corpus_fingerprint
from FlagEmbedding.retrieval.sparse import SparseIndex
from FlagEmbedding.retrieval.manifest import MANIFEST_PREFIX, read_manifest, recorded_checksums
from FlagEmbedding.retrieval.options import is_m3
from FlagEmbedding.retrieval.quantized import QuantizedDenseIndex, build_quantized, quantized_files, quantized_folder
from FlagEmbedding.utils.errors import InputError, IntegrityError
from FlagEmbedding.utils.files import file_checksum

logger = logging.getLogger(__name__)


def model_parts(embedder: Any, blocks: Mapping[str, Sequence[np.ndarray]], faiss_factory: Optional[str] = None,
                faiss_path: Optional[str] = None, reuse_faiss: bool = True,
                quantized: Optional[Tuple[str, str]] = None, colbert_precision: str = "float16") -> Dict[str, Any]:
    """Searchable dense / sparse / ColBERT parts over their cache rows (row blocks, corpus order); dense over
    the codes in ``quantized`` (``(folder, precision)``) when given."""
    parts: Dict[str, Any] = {}
    if "dense" in blocks and quantized is not None:
        parts["dense"] = QuantizedDenseIndex(quantized[0], quantized[1], int(blocks["dense"][0].shape[1]))
    elif "dense" in blocks:
        parts["dense"] = DenseIndex(blocks["dense"], faiss_factory=faiss_factory, faiss_path=faiss_path,
                                    reuse_saved=reuse_faiss)
    if "sparse" in blocks:
        parts["sparse"] = SparseIndex(sparse_rows.csr_from_padded(blocks["sparse"],
                                                                  int(embedder.model.config.vocab_size)))
    if "colbert" in blocks and colbert_precision != "float16":
        parts["colbert"] = TokenColbertStore(blocks["colbert"], colbert_dim(embedder), colbert_precision)
    elif "colbert" in blocks:
        parts["colbert"] = ColbertStore(blocks["colbert"], colbert_dim(embedder))
    return parts


def read_manifests(folder: str, strict: bool) -> Dict[str, Dict[str, Any]]:
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


def open_parts(folder: str, docids: List[str], texts: List[str], embedder: Any, representations: Sequence[str],
                faiss_factory: Optional[str], shard_rows: int, bm25_params: BM25Params, overwrite: bool,
                encode_kwargs: Dict[str, Any], manifests: Mapping[str, Mapping[str, Any]],
                embedding_precision: str = "float32",
                colbert_precision: str = "float16") -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The searchable parts and ``{path relative to folder: checksum}`` of the BM25, faiss and quantized dense
    files they use. A saved BM25 folder, faiss file or set of quantized files is reused only when every file
    matches a checksum that ``manifests`` record; otherwise it is rebuilt from the corpus / the dense shards (a
    warning names the file)."""
    def relative(path: str) -> str:
        return os.path.relpath(path, folder).replace(os.sep, "/")

    def trusted(path: str, checksum: str) -> bool:
        return checksum in recorded_checksums(manifests.values(), relative(path))

    rows = load_or_encode_rows(folder, docids, texts, embedder, representations, is_m3(embedder), shard_rows,
                               overwrite, encode_kwargs, colbert_precision)
    files: Dict[str, str] = {}
    faiss_path, reuse_faiss = None, False
    if "dense" in rows and faiss_factory not in (None, "", "Flat"):
        faiss_path = os.path.join(rows["dense"][0].path, DenseIndex.faiss_file_name(faiss_factory))
        reuse_faiss = not overwrite and os.path.exists(faiss_path)
        if reuse_faiss:
            faiss_checksum = file_checksum(faiss_path)
            if not trusted(faiss_path, faiss_checksum):
                logger.warning("%s; rebuilding the faiss index.", IntegrityError(faiss_path))
                reuse_faiss = False
    quantized = None
    if "dense" in rows and embedding_precision != "float32":
        if faiss_factory not in (None, "", "Flat"):
            raise InputError(f"faiss_factory {faiss_factory!r} applies to float32 vectors, not to embedding_precision "
                             f"{embedding_precision!r} (binary precisions use faiss' binary index themselves).")
        quantized = (quantized_folder(rows["dense"][0].path, embedding_precision), embedding_precision)
        paths = [os.path.join(quantized[0], name) for name in quantized_files(embedding_precision)]
        checksums = {path: file_checksum(path) for path in paths if not overwrite and os.path.exists(path)}
        if len(checksums) < len(paths) or not all(trusted(p, c) for p, c in checksums.items()):
            if checksums:
                logger.warning("%s; rebuilding the %s codes.", IntegrityError(quantized[0]), embedding_precision)
            build_quantized(rows["dense"][1], embedding_precision, quantized[0])
            checksums = {path: file_checksum(path) for path in paths}
        files.update({relative(path): checksum for path, checksum in checksums.items()})
    parts = model_parts(embedder, {name: blocks for name, (_, blocks) in rows.items()},
                        faiss_factory, faiss_path, reuse_faiss, quantized, colbert_precision)
    if faiss_path is not None:  # the file read once: its checksum is known unless it was (re)built just now
        files[relative(faiss_path)] = faiss_checksum if reuse_faiss else file_checksum(faiss_path)
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
