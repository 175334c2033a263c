"""File I/O shared by evaluation, fine-tuning and the data scripts.

* Atomic writers: every output is written to a temporary file in its folder and ``os.replace``-d into place, so a
  killed run never leaves a half-written file.
* Folders: :func:`replace_folder` writes a whole folder under a unique temporary name and swaps it into place under
  the folder's lock (:func:`folder_lock`), so concurrent writers and readers of one folder never see it half
  written or half removed.
* Readers of line-based text files (JSON lines, TSV): each line is decoded on its own, so non-UTF-8 bytes, invalid
  JSON and lone surrogates (``"\\ud83d"``) raise :class:`~FlagEmbedding.utils.errors.InputError` naming the file and
  the line, before any model is loaded.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Callable, Dict, Iterable, Iterator, Mapping, Optional, Tuple

import numpy as np

from FlagEmbedding.utils.errors import InputError

_ESCAPED_SURROGATE = "\\ud"  # lower-cased JSON escape of U+D800..U+DFFF, the only way a lone surrogate gets in


# ---------------------------------------------------------------------------------------------- identity
def file_checksum(path: str) -> str:
    """BLAKE2b checksum of a file's bytes."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 23), b""):
            digest.update(block)
    return digest.hexdigest()


def model_files_identity(model_name_or_path: str, model: Any) -> Any:
    """``[relative path, size, mtime_ns]`` of every file under a local model folder, else the hub commit of
    ``model.config`` (what the embedding cache and the ONNX export cache are keyed by)."""
    if os.path.isdir(model_name_or_path):
        files = []
        for root, dirs, names in os.walk(model_name_or_path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                path = os.path.join(root, name)
                stat = os.stat(path)
                files.append([os.path.relpath(path, model_name_or_path), stat.st_size, stat.st_mtime_ns])
        return files
    config = getattr(model, "config", None)
    return getattr(config, "_commit_hash", None)


def folder_checksums(folder: str) -> Dict[str, str]:
    """``{relative path: checksum}`` of every file under ``folder`` (``/``-separated paths, sorted)."""
    checksums = {}
    for root, dirs, names in os.walk(folder):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(root, name)
            checksums[os.path.relpath(path, folder).replace(os.sep, "/")] = file_checksum(path)
    return checksums


# ---------------------------------------------------------------------------------------------- writers
@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yield a temporary path in the folder of ``path`` (created if needed) for a writer that needs a path
    (``torch.save``, ``to_disk``); on success it is ``os.replace``-d onto ``path``, on any error removed."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write(path: str, write: Callable[[Any], None], mode: str = "w") -> None:
    """Call ``write(file)`` on a temporary file next to ``path`` and move it into place (see :func:`atomic_path`);
    on any error ``path`` is untouched."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path: str, text: str) -> None:
    """Atomically write a UTF-8 text file (creating its folder)."""
    atomic_write(path, lambda f: f.write(text))


def atomic_write_json(path: str, obj: Any, indent: Optional[int] = 4) -> None:
    """Atomically write ``obj`` as UTF-8 JSON (``ensure_ascii=False``)."""
    atomic_write(path, lambda f: json.dump(obj, f, indent=indent, ensure_ascii=False))


def atomic_write_jsonl(path: str, rows: Iterable[Mapping[str, Any]], ensure_ascii: bool = False) -> None:
    """Atomically write one JSON object per line."""

    def write(f: Any) -> None:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=ensure_ascii) + "\n")

    atomic_write(path, write)


def atomic_save_npy(path: str, array: np.ndarray) -> None:
    """Atomically ``np.save`` an array."""
    atomic_write(path, lambda f: np.save(f, array), mode="wb")


@contextlib.contextmanager
def folder_lock(folder: str) -> Iterator[None]:
    """Hold the inter-process lock of ``folder`` (the file ``<folder>.lock`` beside it): every process that swaps
    the folder (:func:`replace_folder`) or reads it takes this lock, so no reader sees a folder half replaced."""
    import filelock

    path = os.path.abspath(folder).rstrip(os.sep)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with filelock.FileLock(path + ".lock"):
        yield


def replace_folder(folder: str, write: Callable[[str], None]) -> None:
    """Call ``write(tmp)`` on a new, uniquely named sibling folder, then swap it in as ``folder``: under
    :func:`folder_lock`, an existing ``folder`` is renamed aside and the new one renamed into place (two atomic
    renames), then the old one is removed. Concurrent writers each build their own folder and take turns at the
    swap; on any error ``folder`` is left as it was."""
    path = os.path.abspath(folder).rstrip(os.sep)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".tmp-{name}-")
    try:
        write(tmp)
        with folder_lock(path):
            aside = None
            if os.path.lexists(path):
                aside = tempfile.mkdtemp(dir=parent, prefix=f".old-{name}-")
                os.replace(path, os.path.join(aside, name))
            os.replace(tmp, path)
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_json_file(path: str, what: str = "JSON file") -> Any:
    """The JSON value of a whole file; :class:`InputError` naming ``path`` when it cannot be read, is not UTF-8 or
    not valid JSON (``what`` names the kind of file in the message)."""
    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not a valid {what} (not UTF-8 at byte {error.start}).") from None
    except ValueError as error:
        raise InputError(f"{path}: not a valid {what} ({getattr(error, 'msg', error)}).") from None


# ---------------------------------------------------------------------------------------------- readers
def iter_lines(path: str) -> Iterator[Tuple[int, str]]:
    """Yield ``(line number, text)`` of a UTF-8 text file (1-based, newline kept); bad bytes name file and line."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise InputError(f"{path}, line {number}: not valid UTF-8 (byte 0x{raw[error.start]:02x} at column "
                                 f"{error.start + 1}); re-save the file as UTF-8.") from None


def check_encodable(value: Any, where: str) -> None:
    """Raise :class:`InputError` (prefixed with ``where``) if a string inside ``value`` holds a lone surrogate."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(f"{where}: the text holds a lone surrogate ({error.object[error.start:error.end]!a}), "
                         f"which is not a character; fix the escape in the file.") from None


def parse_json_line(path: str, number: int, line: str) -> Any:
    """The JSON value of one line (``InputError`` naming file and line for invalid JSON or a lone surrogate)."""
    try:
        value = json.loads(line)
    except ValueError as error:
        raise InputError(f"{path}, line {number}: invalid JSON ({getattr(error, 'msg', error)}).") from None
    if _ESCAPED_SURROGATE in line.lower():
        check_encodable(value, f"{path}, line {number}")
    return value


def iter_jsonl(path: str) -> Iterator[Tuple[int, Any]]:
    """Yield ``(line number, value)`` for each non-blank line of a JSON-lines file (see :func:`iter_lines`)."""
    for number, line in iter_lines(path):
        if line.strip():
            yield number, parse_json_line(path, number, line)
