"""Sharded, fingerprinted corpus-embedding cache.

Layout of one cache (``folder`` is chosen by the evaluator, e.g. ``<root>/<model>/<dataset>``)::

    folder/<fingerprint[:16]>/manifest.json
    folder/<fingerprint[:16]>/shard-00000.npy   # rows [0, shard_rows)
    folder/<fingerprint[:16]>/shard-00001.npy   # rows [shard_rows, 2 * shard_rows) ...

The fingerprint hashes the model identity (path, size and mtime of its files or the hub commit), every
setting that changes corpus vectors (class, pooling, passage length, dtype, instructions, ``truncate_dim``,
normalization, a long-text strategy other than truncation, and the other keywords the model records (declared or
not), except the :data:`~FlagEmbedding.abc.inference.base.RUNTIME_OPTIONS` such as ``batch_size`` and
``devices``) and the exact corpus (ids and texts, in order). Each shard is written atomically and its
checksum recorded in the manifest, so a run killed mid-corpus resumes with only the unfinished shards, and
a truncated, corrupted, stale or foreign shard is re-encoded instead of reused. Loaded shards are
memory-mapped. Several caches of one corpus (e.g. the dense, sparse and ColBERT rows of an M3 model) are filled
together by :func:`load_or_encode_together` / :func:`encode_assigned_together`: one encode call per shard for
every cache that lacks it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import zipfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from FlagEmbedding.retrieval import distributed
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import (atomic_save_npy, atomic_write_json, file_checksum, model_files_identity,
                                       read_json_file)
from FlagEmbedding.utils.progress import stage_bar

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CACHE_FORMAT = 1
#: the progress bar of the corpus encoding (one bar for all the shards encoded, see :mod:`FlagEmbedding.utils.progress`)
CORPUS_STAGE = "Encoding corpus"

def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


def embedder_fingerprint(embedder: Any) -> Dict[str, Any]:
    """Everything about ``embedder`` that determines its corpus vectors, as a JSON-able dict."""
    from FlagEmbedding.abc.inference.devices import compute_dtype

    from FlagEmbedding.abc.inference.base import RUNTIME_OPTIONS

    path = embedder.model_name_or_path
    # every recorded keyword but the runtime ones: an undeclared keyword counts too, since a subclass may read it
    # and change the vectors (a needless re-encode is safe, a stale cache is not)
    settings = {key: value for key, value in sorted(getattr(embedder, "kwargs", {}).items())
                if key not in RUNTIME_OPTIONS and _jsonable(value)}
    device = embedder.target_devices[0] if getattr(embedder, "target_devices", None) else "cpu"
    strategy = getattr(embedder, "long_text_strategy", "truncate")
    if strategy != "truncate":  # recorded only when set, so the caches of truncating runs stay valid
        settings["long_text"] = {"strategy": strategy, "stride": getattr(embedder, "long_text_stride", 0),
                                 "mcls_interval": getattr(embedder, "mcls_interval", None)}
    return {
        "class": f"{type(embedder).__module__}.{type(embedder).__qualname__}",
        "model": os.path.abspath(path) if os.path.isdir(path) else path,
        "weights": model_files_identity(path, getattr(embedder, "model", None)),
        "dtype": str(compute_dtype(device, getattr(embedder, "use_fp16", False), getattr(embedder, "use_bf16", False))),
        "passage_max_length": getattr(embedder, "passage_max_length", None),
        "normalize_embeddings": getattr(embedder, "normalize_embeddings", None),
        "truncate_dim": getattr(embedder, "truncate_dim", None),
        "query_instruction_for_retrieval": getattr(embedder, "query_instruction_for_retrieval", None),
        "query_instruction_format": getattr(embedder, "query_instruction_format", None),
        "settings": settings,
    }


def corpus_fingerprint(docids: Sequence[str], texts: Sequence[str]) -> str:
    """SHA-256 of the ordered ``(docid, text)`` pairs."""
    digest = hashlib.sha256()
    for docid, text in zip(docids, texts):
        digest.update(docid.encode("utf-8") + b"\x00" + text.encode("utf-8") + b"\x01")
    return digest.hexdigest()


def _read_json(path: str, unreadable: Optional[str] = None) -> Any:
    """The JSON value in ``path``; ``None`` when the file is absent or unreadable (logging ``unreadable % path``)."""
    if not os.path.exists(path):
        return None
    try:
        return read_json_file(path)
    except (OSError, ValueError):  # InputError is a ValueError
        if unreadable:
            logger.warning(unreadable, path)
        return None


class CorpusEmbeddingCache:
    """One corpus's embeddings for one model configuration, stored as row shards.

    Args:
        folder: Parent folder; the cache lives in ``folder/<fingerprint[:16]>``.
        model_fingerprint: Output of :func:`embedder_fingerprint`.
        docids: Corpus ids, in row order.
        texts: Passage texts, in row order.
        shard_rows: Rows per shard.
    """

    def __init__(self, folder: str, model_fingerprint: Dict[str, Any], docids: Sequence[str],
                 texts: Sequence[str], shard_rows: int = 100_000):
        if shard_rows <= 0:
            raise InputError(f"shard_rows must be a positive integer, got {shard_rows}.")
        self.texts = texts
        self.shard_rows = shard_rows
        self.num_rows = len(texts)
        identity = {"format": CACHE_FORMAT, "model": model_fingerprint,
                    "corpus": corpus_fingerprint(docids, texts), "num_rows": self.num_rows,
                    "shard_rows": shard_rows}
        self.fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()
        self.identity = identity
        self.path = os.path.join(folder, self.fingerprint[:16])
        #: indices of the shards encoded (not reused) by the last :meth:`load_or_encode`
        self.encoded_shards: List[int] = []

    @property
    def num_shards(self) -> int:
        """Number of shards the corpus is split into."""
        return (self.num_rows + self.shard_rows - 1) // self.shard_rows

    def shard_path(self, shard: int) -> str:
        """File of shard ``shard``."""
        return os.path.join(self.path, f"shard-{shard:05d}.npy")

    def shard_bounds(self, shard: int) -> range:
        """Corpus rows stored in shard ``shard``."""
        return range(shard * self.shard_rows, min(self.num_rows, (shard + 1) * self.shard_rows))

    # ------------------------------------------------------------------ manifest
    def read_manifest(self) -> Optional[Dict[str, Any]]:
        """The cache's manifest when it belongs to this fingerprint (``None`` otherwise, logged)."""
        path = os.path.join(self.path, MANIFEST)
        manifest = _read_json(path, "Embedding cache manifest %s is unreadable; re-encoding the corpus.")
        if manifest is None:
            return None
        if not isinstance(manifest, dict) or manifest.get("fingerprint") != self.fingerprint:
            logger.warning("Embedding cache %s belongs to another model or corpus; re-encoding the corpus.",
                           self.path)
            return None
        return manifest

    def _write_manifest(self, shards: Dict[str, Dict[str, Any]]) -> None:
        atomic_write_json(os.path.join(self.path, MANIFEST),
                          {"fingerprint": self.fingerprint, "identity": self.identity, "shards": shards})

    def valid_shard(self, shard: int, record: Optional[Dict[str, Any]]) -> bool:
        """Whether shard ``shard`` is readable, of the right shape and matches ``record``'s checksum."""
        path = self.shard_path(shard)
        if record is None or not os.path.exists(path):
            return False
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:  # empty, truncated, zip, pickle bytes
            logger.warning("Embedding cache shard %s is unreadable (%s); re-encoding it.", path, error)
            return False
        if not isinstance(array, np.ndarray):  # an .npz archive
            array.close()
            logger.warning("Embedding cache shard %s is not a .npy array; re-encoding it.", path)
            return False
        if not self.shape_ok(array, len(self.shard_bounds(shard))):
            logger.warning("Embedding cache shard %s has shape %s; re-encoding it.", path, array.shape)
            return False
        if file_checksum(path) != record.get("checksum"):
            logger.warning("Embedding cache shard %s fails its checksum; re-encoding it.", path)
            return False
        return True

    def shape_ok(self, array: np.ndarray, rows: int) -> bool:
        """Whether ``array`` can be the shard of ``rows`` corpus rows (here: a matrix of ``rows`` rows)."""
        return array.ndim == 2 and array.shape[0] == rows

    # ------------------------------------------------------------------ shard records written by other ranks
    def record_path(self, shard: int) -> str:
        """Record (rows, checksum) of shard ``shard`` written beside it by a rank of a distributed run."""
        return os.path.join(self.path, f"shard-{shard:05d}.record.json")

    def _pending_record(self, shard: int) -> Optional[Dict[str, Any]]:
        record = _read_json(self.record_path(shard))
        return record if isinstance(record, dict) and record.get("fingerprint") == self.fingerprint else None

    # ------------------------------------------------------------------ encoding
    def prepare(self, overwrite: bool = False) -> Dict[str, Dict[str, Any]]:
        """Create the cache folder (emptied when its manifest is missing, foreign or ``overwrite``) and return
        the shard records of the manifest."""
        manifest = None if overwrite else self.read_manifest()
        if manifest is None and os.path.isdir(self.path):
            shutil.rmtree(self.path)
        os.makedirs(self.path, exist_ok=True)
        records: Dict[str, Dict[str, Any]] = dict(manifest["shards"]) if manifest else {}
        if manifest is None:
            self._write_manifest(records)
        return records

    def missing_shards(self, records: Dict[str, Dict[str, Any]]) -> List[int]:
        """Shards with no valid file under a manifest record or a record written by a rank."""
        return [shard for shard in range(self.num_shards)
                if not self.valid_shard(shard, records.get(str(shard)))
                and not self.valid_shard(shard, self._pending_record(shard))]

    def shard_texts(self, shard: int) -> List[str]:
        """Passage texts of shard ``shard``."""
        return [self.texts[i] for i in self.shard_bounds(shard)]

    def _save_shard(self, shard: int, array: Any) -> Dict[str, Any]:
        """Atomically save the rows of one shard; return its record."""
        rows = self.shard_bounds(shard)
        array = np.asarray(array)
        if not self.shape_ok(array, len(rows)):
            raise ValueError(f"The embedder returned shape {array.shape} for {len(rows)} passages.")
        atomic_save_npy(self.shard_path(shard), array)
        return {"rows": len(rows), "checksum": file_checksum(self.shard_path(shard))}

    def reuse_shard(self, shard: int, records: Dict[str, Dict[str, Any]]) -> bool:
        """Whether shard ``shard`` has a valid file: under its manifest record, or under a record written by a
        rank (then adopted into ``records``; the manifest is written by the next :meth:`store_shard` or by
        :meth:`open_shards`, and the rank's record stays until then)."""
        if self.valid_shard(shard, records.get(str(shard))):
            return True
        records.pop(str(shard), None)
        pending = self._pending_record(shard)
        if not self.valid_shard(shard, pending):
            return False
        assert pending is not None  # a valid record
        records[str(shard)] = {"rows": pending["rows"], "checksum": pending["checksum"]}
        return True

    def store_shard(self, shard: int, array: Any, records: Dict[str, Dict[str, Any]]) -> None:
        """Save a freshly encoded shard and record it in the manifest."""
        records[str(shard)] = self._save_shard(shard, array)
        self._write_manifest(records)
        self.encoded_shards.append(shard)

    def open_shards(self, records: Dict[str, Dict[str, Any]]) -> List[np.ndarray]:
        """Write the manifest if rank records were adopted into ``records``, drop the rank records (adopted, or
        left over from a run stopped right after adopting) and return the memory-mapped shards."""
        rank_records = [self.record_path(shard) for shard in range(self.num_shards)
                        if os.path.exists(self.record_path(shard))]
        if rank_records:
            self._write_manifest(records)
        for path in rank_records:
            os.remove(path)
        shards = [np.load(self.shard_path(shard), mmap_mode="r") for shard in range(self.num_shards)]
        if self.encoded_shards:
            logger.info("Encoded %d of %d corpus shards into %s.", len(self.encoded_shards), self.num_shards, self.path)
        else:
            logger.info("Reusing the corpus embeddings cached in %s.", self.path)
        return shards

    def encode_assigned(self, encode: Callable[[List[str]], np.ndarray], overwrite: bool = False) -> List[int]:
        """Distributed runs: encode this rank's share of the missing shards; return the shards it encoded.

        Rank 0 prepares the folder and decides which shards are missing; every rank then encodes every
        ``world_size``-th of them, saving each shard with a record beside it (never touching the manifest,
        which rank 0 alone rewrites in :meth:`load_or_encode` after the ranks are done).
        """
        return encode_assigned_together({"rows": self}, lambda texts, names: {"rows": encode(texts)},
                                        overwrite=overwrite)

    def save_assigned(self, shard: int, array: Any) -> None:
        """Save a shard encoded by a rank of a distributed run, with its record beside it."""
        record = self._save_shard(shard, array)
        atomic_write_json(self.record_path(shard), {"fingerprint": self.fingerprint, **record})

    # ------------------------------------------------------------------ main entry
    def load_or_encode(self, encode: Callable[[List[str]], np.ndarray], overwrite: bool = False) -> List[np.ndarray]:
        """Return the memory-mapped shards, encoding (with ``encode``) only missing or invalid ones.

        Shards saved by the ranks of a distributed run (:meth:`encode_assigned`) are adopted into the manifest.
        """
        return load_or_encode_together({"rows": self}, lambda texts, names: {"rows": encode(texts)},
                                       overwrite=overwrite)["rows"]


#: ``(shard texts, names of the caches missing the shard) -> {name: rows}`` (see :func:`load_or_encode_together`)
SharedShardEncoder = Callable[[List[str], List[str]], Mapping[str, Any]]


def check_same_layout(caches: Mapping[str, CorpusEmbeddingCache]) -> CorpusEmbeddingCache:
    """``ValueError`` unless ``caches`` (at least one) hold the same corpus in the same shards; returns the first."""
    layouts = {(cache.num_rows, cache.shard_rows, cache.identity["corpus"]) for cache in caches.values()}
    if len(layouts) != 1:
        raise ValueError(f"caches must hold the same corpus in the same shards, got {sorted(layouts)}.")
    return next(iter(caches.values()))


def encode_shards(layout: CorpusEmbeddingCache, shards: Sequence[int], lacking: Mapping[int, List[str]],
                  encode: SharedShardEncoder, save: Callable[[str, int, Any], None]) -> None:
    """Encode ``shards`` of the corpus of ``layout`` under one progress bar (:data:`CORPUS_STAGE`, in documents):
    ``encode(texts, lacking[shard])`` once per shard, then ``save(name, shard, rows)`` for each cache name."""
    with stage_bar(sum(len(layout.shard_bounds(shard)) for shard in shards), CORPUS_STAGE, unit="doc",
                   disable=not shards) as bar:
        for shard in shards:
            with bar.part(len(layout.shard_bounds(shard))):
                rows = encode(layout.shard_texts(shard), lacking[shard])
            for name in lacking[shard]:
                save(name, shard, rows[name])


def encode_assigned_together(caches: Mapping[str, CorpusEmbeddingCache], encode: SharedShardEncoder,
                             overwrite: bool = False) -> List[int]:
    """Distributed runs: :meth:`CorpusEmbeddingCache.encode_assigned` for several caches of one corpus, each shard
    encoded once for all the caches lacking it (``encode`` as in :func:`load_or_encode_together`).

    Rank 0 decides which shards each cache lacks; the shards any cache lacks are dealt out to the ranks.
    Returns the shards this rank encoded.
    """
    rank, _ = distributed.world()
    first = check_same_layout(caches)
    names, count = list(caches), first.num_shards
    for cache in caches.values():
        distributed.check_same(cache.fingerprint, f"the fingerprint of the corpus-embedding cache in {cache.path}")
    flags = [False] * (len(names) * count)
    if rank == 0:
        for position, name in enumerate(names):
            for shard in caches[name].missing_shards(caches[name].prepare(overwrite)):
                flags[position * count + shard] = True
    flags = distributed.broadcast_flags(flags)
    lacking = {shard: [name for position, name in enumerate(names) if flags[position * count + shard]]
               for shard in range(count)}
    mine = distributed.assigned([shard for shard in range(count) if lacking[shard]])
    encode_shards(first, mine, lacking, encode, lambda name, shard, rows: caches[name].save_assigned(shard, rows))
    for name, cache in caches.items():
        done = sum(name in lacking[shard] for shard in mine)
        logger.info("Rank %d encoded %d of %d corpus shards into %s.", rank, done, count, cache.path)
    return mine


def load_or_encode_together(caches: Mapping[str, CorpusEmbeddingCache], encode: SharedShardEncoder,
                            overwrite: bool = False) -> Dict[str, List[np.ndarray]]:
    """Load or encode several caches of one corpus (e.g. the dense, sparse and ColBERT rows of an M3 model) with
    one encode pass per shard: ``encode(texts, names)`` is called once per shard that any cache lacks, with the
    names of those caches, and returns the rows of each; caches holding a valid shard are not recomputed.

    Every cache keeps its own fingerprint, files and manifest (each shard written atomically, the manifest
    after it), so a killed run resumes with exactly the shards each cache still lacks. One progress bar
    (:data:`CORPUS_STAGE`, in documents) covers every shard encoded.

    Returns:
        ``{name: memory-mapped shards}``.
    """
    first = check_same_layout(caches)
    records = {}
    for name, cache in caches.items():
        cache.encoded_shards = []
        records[name] = cache.prepare(overwrite)
    lacking = {shard: [name for name, cache in caches.items() if not cache.reuse_shard(shard, records[name])]
               for shard in range(first.num_shards)}
    encode_shards(first, [shard for shard, missing in lacking.items() if missing], lacking, encode,
                  lambda name, shard, rows: caches[name].store_shard(shard, rows, records[name]))
    return {name: cache.open_shards(records[name]) for name, cache in caches.items()}
