"""Readers of benchmark files: corpus and queries JSONL, qrels as JSONL, BEIR TSV or TREC, and ``qid<TAB>query``.

Every id is read as ``str``; a bad line raises :class:`~FlagEmbedding.utils.errors.InputError` naming file and line.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import iter_jsonl, iter_lines

Corpus = Dict[str, Dict[str, str]]
Queries = Dict[str, str]
Qrels = Dict[str, Any]


def iter_objects(path: str) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; a bad line raises naming file and line."""
    for number, row in iter_jsonl(path):
        if not isinstance(row, dict):
            raise InputError(f"{path}, line {number}: expected a JSON object, got {type(row).__name__}.")
        yield number, row


def _field(row: Dict[str, Any], names: Sequence[str], path: str, number: int) -> Any:
    for name in names:
        if name in row and row[name] is not None:
            return row[name]
    wanted = " or ".join(f"'{name}'" for name in names)
    raise InputError(f"{path}, line {number}: missing field {wanted}.")


def _id(row: Dict[str, Any], names: Sequence[str], path: str, number: int) -> str:
    """An id field as ``str`` (ids may be written as JSON numbers); other types are rejected."""
    value = _field(row, names, path, number)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InputError(f"{path}, line {number}: '{names[0]}' must be a string, got {type(value).__name__}.")
    return str(value)


def _text(row: Dict[str, Any], name: str, path: str, number: int, required: bool = True) -> str:
    """A text field; must be a JSON string (a number or list is an error, never its Python repr)."""
    value = _field(row, (name,), path, number) if required else row.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InputError(f"{path}, line {number}: '{name}' must be a string, got {type(value).__name__} "
                         f"({value!r:.40}).")
    return value


def _add_unique(mapping: Dict[str, Any], key: str, value: Any, path: str, number: int) -> None:
    if key in mapping:
        raise InputError(f"{path}, line {number}: duplicate id '{key}'.")
    mapping[key] = value


def read_corpus(path: str) -> Corpus:
    """Read ``corpus.jsonl`` (``id`` or BEIR's ``_id``; ``title`` defaults to ``""``)."""
    corpus: Corpus = {}
    for number, row in iter_objects(path):
        doc = {"title": _text(row, "title", path, number, required=False), "text": _text(row, "text", path, number)}
        _add_unique(corpus, _id(row, ("id", "_id"), path, number), doc, path, number)
    if not corpus:
        raise InputError(f"{path}: the corpus is empty.")
    return corpus


def read_queries(path: str, keep: Optional[set] = None) -> Queries:
    """Read a queries JSONL file (``id`` or ``_id``, ``text``), optionally keeping only ids in ``keep``."""
    queries: Queries = {}
    for number, row in iter_objects(path):
        qid = _id(row, ("id", "_id"), path, number)
        if keep is None or qid in keep:
            _add_unique(queries, qid, _text(row, "text", path, number), path, number)
    return queries


def _relevance(value: Any, path: str, number: int) -> int:
    """A relevance grade: an integer, written as a JSON/TSV integer or an integral number (``1.0``).

    The same rule for every qrels format; ``0.5``, ``"high"`` or ``true`` raise naming file and line.
    """
    grade: Any = value
    if isinstance(value, str):
        try:
            grade = float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            grade = None
    if isinstance(grade, bool) or not isinstance(grade, (int, float)) or \
            (isinstance(grade, float) and not grade.is_integer()):
        raise InputError(f"{path}, line {number}: relevance {value!r} is not an integer (grades are whole "
                         f"numbers such as 0, 1, 2).")
    return int(grade)


class _QrelsBuilder:
    """Collects judgements; the same (query, document) pair twice is an error naming both lines."""

    def __init__(self, path: str):
        self.path = path
        self.qrels: Dict[str, Dict[str, int]] = {}
        self.lines: Dict[Tuple[str, str], int] = {}

    def add(self, qid: str, docid: str, relevance: Any, number: int) -> None:
        if (qid, docid) in self.lines:
            raise InputError(f"{self.path}, line {number}: query '{qid}' and document '{docid}' are already "
                             f"judged on line {self.lines[qid, docid]}; keep one judgement per pair.")
        self.lines[qid, docid] = number
        self.qrels.setdefault(qid, {})[docid] = _relevance(relevance, self.path, number)


def read_qrels_jsonl(path: str) -> Dict[str, Dict[str, int]]:
    """Read ``<split>_qrels.jsonl`` (``qid``, ``docid``, ``relevance``)."""
    builder = _QrelsBuilder(path)
    for number, row in iter_objects(path):
        builder.add(_id(row, ("qid",), path, number), _id(row, ("docid",), path, number),
                    _field(row, ("relevance",), path, number), number)
    return builder.qrels


def read_qrels_tsv(path: str) -> Dict[str, Dict[str, int]]:
    """Read BEIR ``qrels/<split>.tsv`` (``query-id corpus-id score``, header optional) or TREC ``qid Q0 docid rel``."""
    builder = _QrelsBuilder(path)
    for number, line in iter_lines(path):
        parts = line.split()
        if not parts or (number == 1 and parts[0] == "query-id"):
            continue
        if len(parts) not in (3, 4):
            raise InputError(f"{path}, line {number}: expected 3 (or TREC's 4) columns, got {len(parts)}.")
        builder.add(parts[0], parts[-2], parts[-1], number)
    return builder.qrels


def read_tsv_queries(path: str) -> Queries:
    """Read ``qid<TAB>query`` lines."""
    queries: Queries = {}
    for number, line in iter_lines(path):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) < 2:
            raise InputError(f"{path}, line {number}: expected 'qid<TAB>query'.")
        queries[parts[0]] = parts[1]
    return queries

def passage_text(doc: Mapping[str, str]) -> str:
    """``"{title} {text}"`` stripped when the document has a title key, else its text unchanged."""
    if "title" in doc:
        return f"{doc['title']} {doc['text']}".strip()
    return doc["text"]
