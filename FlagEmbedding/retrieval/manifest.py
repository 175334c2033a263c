"""The manifest of a :class:`~FlagEmbedding.retrieval.RetrievalIndex` folder: ``index-<key[:16]>.json``.

It records what was built (format version, model fingerprint, settings, corpus fingerprint; ``key`` is the
SHA-256 of those four) and ``files``: the checksum of every file the index reads besides the embedding-cache
shards (which have their own checksummed manifest) — the BM25 arrays and vocabulary, the faiss index file and
``corpus.jsonl`` — by path relative to the index folder. ``checksum`` covers the manifest itself.

Reading a manifest refuses, with one message naming the file: invalid JSON, a format this version does not read,
a ``checksum`` or ``key`` that does not match the content (an edited or damaged manifest).
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict, Iterable, Mapping, Set

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, read_json_file

#: the format written by this version (2: adds ``files`` and ``checksum``)
INDEX_FORMAT = 2
#: formats this version reads (1: before file checksums; its unverifiable files are rebuilt on load)
READABLE_FORMATS = (1, 2)
MANIFEST_PREFIX = "index-"
_REBUILD = "delete it and build the index again (RetrievalIndex.build, or rerun the evaluation)"


def index_key(index_format: int, model: Any, settings: Mapping[str, Any], corpus: str) -> str:
    """SHA-256 of what an index was built from (its identity)."""
    identity = {"format": index_format, "model": model, "settings": settings, "corpus": corpus}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


def manifest_path(folder: str, key: str) -> str:
    """Path of the manifest of the index ``key`` in ``folder``."""
    return os.path.join(folder, f"{MANIFEST_PREFIX}{key[:16]}.json")


def _checksum(content: Mapping[str, Any]) -> str:
    body = {name: value for name, value in content.items() if name != "checksum"}
    return hashlib.blake2b(json.dumps(body, sort_keys=True).encode("utf-8"), digest_size=16).hexdigest()


def write_manifest(folder: str, model: Any, settings: Mapping[str, Any], corpus: str, num_docs: int,
                   store_corpus: bool, files: Mapping[str, str]) -> str:
    """Write (atomically) the manifest of an index in ``folder``; returns its path."""
    key = index_key(INDEX_FORMAT, model, settings, corpus)
    content: Dict[str, Any] = {"format": INDEX_FORMAT, "key": key, "model": model, "settings": dict(settings),
                               "corpus": corpus, "num_docs": num_docs, "store_corpus": store_corpus,
                               "files": dict(sorted(files.items()))}
    content["checksum"] = _checksum(content)
    path = manifest_path(folder, key)
    atomic_write_json(path, content)
    return path


def read_manifest(path: str) -> Dict[str, Any]:
    """The checked content of the manifest at ``path`` (:class:`InputError` naming it when it is not one this
    version can trust)."""
    content = read_json_file(path, "index manifest")
    if not isinstance(content, dict):
        raise InputError(f"{path}: not a valid index manifest (a JSON object is expected); {_REBUILD}.")
    index_format = content.get("format")
    if isinstance(index_format, bool) or index_format not in READABLE_FORMATS:
        raise InputError(f"{path}: index format {index_format!r} is not one this version reads "
                         f"({', '.join(map(str, READABLE_FORMATS))}); {_REBUILD}.")
    missing = [name for name in ("key", "model", "settings", "corpus") if name not in content]
    if missing:
        raise InputError(f"{path}: not a valid index manifest (no {', '.join(missing)}); {_REBUILD}.")
    if index_format >= 2 and content.get("checksum") != _checksum(content):
        raise InputError(f"{path}: the manifest does not match its checksum (edited or damaged); {_REBUILD}.")
    if content["key"] != index_key(index_format, content["model"], content["settings"], content["corpus"]):
        raise InputError(f"{path}: the manifest's model, settings or corpus do not match its key (edited); "
                         f"{_REBUILD}.")
    return content


def recorded_checksums(manifests: Iterable[Mapping[str, Any]], relative_path: str) -> Set[str]:
    """The checksums that any of ``manifests`` records for ``relative_path`` (a part shared by several indexes,
    e.g. one BM25 folder, may have been written by each of them)."""
    return {str(content["files"][relative_path]) for content in manifests
            if relative_path in content.get("files", {})}
