"""Training-data plumbing shared by embedder and reranker fine-tuning.

Finding files, checking every record before training starts (errors name the file and line), loading them with
the ``datasets`` JSON builder, aligning columns across files, group sampling and instruction formatting.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import datasets
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import check_encodable, iter_jsonl, iter_lines

logger = logging.getLogger(__name__)

JSON_SUFFIXES = (".json", ".jsonl")
SCORE_COLUMNS = ("pos_scores", "neg_scores")
TEXT_LIST_COLUMNS = ("pos", "neg")

#: ``(record, train_group_size) -> group size that record will be sampled with``.
GroupSizeRule = Callable[[Dict[str, Any], int], int]


def standard_group_size(record: Dict[str, Any], train_group_size: int) -> int:
    """The standard datasets sample every record with ``train_group_size`` passages."""
    return train_group_size


def is_json_file(path: str) -> bool:
    """True for ``.json`` / ``.jsonl`` paths (other files in a data folder are skipped)."""
    return path.endswith(JSON_SUFFIXES)


def list_data_files(path: str) -> List[str]:
    """JSON files behind one ``train_data`` entry: the file itself, or a folder's files one level deep.

    A file with another extension yields nothing (it is skipped, as in FlagEmbedding 1.4.2); a folder is listed in
    sorted order so runs are reproducible.
    """
    if os.path.isdir(path):
        names = sorted(os.listdir(path))
        return [os.path.join(path, name) for name in names
                if is_json_file(name) and os.path.isfile(os.path.join(path, name))]
    if is_json_file(path):
        return [path]
    logger.warning("Skipping training file %s: only .json / .jsonl files are read.", path)
    return []


def iter_json_records(path: str) -> Iterator[Tuple[str, Any]]:
    """Yield ``(location, record)`` for a JSON-lines file or a file holding one JSON array.

    ``location`` reads ``"<path>, line N"`` (JSON lines) or ``"<path>, record N"`` (array), 1-based.
    Invalid JSON, non-UTF-8 bytes and lone surrogates raise :class:`InputError` naming the file and line.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096).lstrip()
    if not head.startswith(b"["):
        for number, record in iter_jsonl(path):
            yield f"{path}, line {number}", record
        return
    text = "".join(line for _, line in iter_lines(path))
    try:
        records = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path}, line {error.lineno}: invalid JSON ({error.msg}).") from None
    for index, record in enumerate(records, start=1):
        check_encodable(record, f"{path}, record {index}")
        yield f"{path}, record {index}", record


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_record(
    location: str,
    record: Any,
    train_group_size: int,
    group_size_rule: GroupSizeRule = standard_group_size,
    require_teacher_scores: bool = False,
) -> None:
    """Raise ``ValueError`` (prefixed with ``location``) unless ``record`` is a usable training example.

    Required: ``query`` (str), ``pos`` (non-empty list of str); ``neg`` (list of str) must be non-empty when the
    record's group needs negatives. Teacher scores, when present (or required), must be lists of numbers
    aligned with ``pos`` / ``neg``.
    """
    if not isinstance(record, dict):
        raise InputError(f"{location}: a record must be a JSON object, got {type(record).__name__}.")
    if "query" not in record:
        raise InputError(f"{location}: missing required field 'query'.")
    if not isinstance(record["query"], str):
        raise InputError(f"{location}: 'query' must be a string, got {type(record['query']).__name__}.")
    if "pos" not in record:
        raise InputError(f"{location}: missing required field 'pos'.")
    for column in TEXT_LIST_COLUMNS:
        values = record.get(column)
        if column == "neg" and values is None:
            continue
        if not isinstance(values, list):
            raise InputError(f"{location}: '{column}' must be a list of strings, got {type(values).__name__}.")
        for index, text in enumerate(values):
            if not isinstance(text, str):
                raise InputError(
                    f"{location}: '{column}[{index}]' must be a string, got {type(text).__name__} ({text!r:.40})."
                )
    if not record["pos"]:
        raise InputError(f"{location}: 'pos' must not be empty.")
    group_size = group_size_rule(record, train_group_size)
    if group_size > 1 and not record.get("neg"):
        raise InputError(
            f"{location}: 'neg' is missing or empty but train_group_size={group_size} needs {group_size - 1} "
            f"negative(s) per query; add negatives (e.g. with scripts/hn_mine.py) or use --train_group_size 1."
        )
    for column, texts in zip(SCORE_COLUMNS, TEXT_LIST_COLUMNS):
        scores = record.get(column)
        if scores is None:
            if require_teacher_scores:
                raise InputError(f"{location}: knowledge_distillation needs '{column}' (a list of numbers).")
            continue
        if not isinstance(scores, list) or not all(_is_number(score) for score in scores):
            raise InputError(f"{location}: '{column}' must be a list of numbers.")
        non_finite = next((index for index, score in enumerate(scores) if not math.isfinite(score)), None)
        if non_finite is not None:
            raise InputError(f"{location}: '{column}[{non_finite}]' is {scores[non_finite]}; teacher scores must be "
                             f"finite numbers (re-score the record, e.g. with scripts/add_reranker_score.py).")
        if len(scores) != len(record.get(texts) or []):
            raise InputError(
                f"{location}: '{column}' has {len(scores)} values but '{texts}' has "
                f"{len(record.get(texts) or [])} passages."
            )


def check_file(
    path: str,
    train_group_size: int,
    group_size_rule: GroupSizeRule = standard_group_size,
    require_teacher_scores: bool = False,
) -> int:
    """Check every record of ``path`` (see :func:`check_record`); return the number of records."""
    count = 0
    for location, record in iter_json_records(path):
        check_record(location, record, train_group_size, group_size_rule, require_teacher_scores)
        count += 1
    return count


def _preferred_features(parts: Sequence[datasets.Dataset]) -> datasets.Features:
    """Per column the first non-null feature type seen; teacher scores are always float lists."""
    chosen: Dict[str, Any] = {}
    for part in parts:
        for name, feature in part.features.items():
            if name not in chosen or ("null" in repr(chosen[name]) and "null" not in repr(feature)):
                chosen[name] = feature
    for name in SCORE_COLUMNS:
        if name in chosen:
            chosen[name] = datasets.List(datasets.Value("float64"))
    for name in TEXT_LIST_COLUMNS:
        if name in chosen:
            chosen[name] = datasets.List(datasets.Value("string"))
    return datasets.Features(chosen)


def concatenate_aligned(parts: Sequence[datasets.Dataset]) -> datasets.Dataset:
    """Concatenate datasets whose columns differ: missing columns become null, types are unified."""
    features = _preferred_features(parts)
    aligned = []
    for part in parts:
        for name in features:
            if name not in part.column_names:
                part = part.add_column(name, [None] * len(part), feature=features[name])
        part = part.select_columns(list(features))
        if part.features != features:
            part = part.cast(features)
        aligned.append(part)
    return aligned[0] if len(aligned) == 1 else datasets.concatenate_datasets(aligned)


def load_json_file(
    path: str, cache_path: Optional[str], max_examples: int, knowledge_distillation: bool
) -> datasets.Dataset:
    """Load one checked, non-empty file with the ``datasets`` JSON builder (``cache_dir=cache_path``).

    Keeps a random subset of ``max_examples`` rows when larger and drops teacher scores unless
    ``knowledge_distillation``.
    """
    dataset = datasets.load_dataset("json", data_files=path, split="train", cache_dir=cache_path)
    if len(dataset) > max_examples:
        dataset = dataset.select(random.sample(range(len(dataset)), max_examples))
    if not knowledge_distillation:
        dataset = dataset.remove_columns([c for c in SCORE_COLUMNS if c in dataset.column_names])
    return concatenate_aligned([dataset])


def load_checked_files(
    paths: Sequence[str],
    cache_path: Optional[str],
    max_examples: int,
    knowledge_distillation: bool,
    train_group_size: int,
    group_size_rule: GroupSizeRule = standard_group_size,
    require_teacher_scores: bool = False,
) -> List[Tuple[str, datasets.Dataset]]:
    """Check then load each file (empty files are skipped); returns ``(path, dataset)`` pairs.

    Every record of every file is checked before anything is loaded, so a bad record stops the run with its
    file and line before training starts.
    """
    counts = [check_file(path, train_group_size, group_size_rule, require_teacher_scores) for path in paths]
    loaded = []
    for path, count in zip(paths, counts):
        if count == 0:
            logger.warning("Skipping empty training file %s.", path)
            continue
        loaded.append((path, load_json_file(path, cache_path, max_examples, knowledge_distillation)))
    return loaded


def load_train_data(
    train_data: Sequence[str],
    cache_path: Optional[str],
    max_examples: int,
    knowledge_distillation: bool,
    train_group_size: int,
) -> datasets.Dataset:
    """All ``train_data`` files (files and folders) as one dataset for the standard (shuffled) datasets.

    With ``knowledge_distillation`` every record must carry numeric ``pos_scores`` / ``neg_scores``.
    """
    paths = [path for entry in train_data for path in list_data_files(entry)]
    loaded = load_checked_files(paths, cache_path, max_examples, knowledge_distillation, train_group_size,
                                require_teacher_scores=knowledge_distillation)
    if not loaded:
        raise InputError(f"train_data {list(train_data)} contains no training records (.json / .jsonl files).")
    return concatenate_aligned([dataset for _, dataset in loaded])


class EpochSeededSampling:
    """Reproducible per-item randomness for datasets.

    Each item draws from its own ``random.Random`` seeded with ``(seed, epoch, index)``, so an item gets the same
    group no matter which process, worker or resumed run fetches it (a resumed run reproduces the uninterrupted
    one), while every epoch draws anew. ``seed`` defaults to a draw from Python's ``random`` (itself seeded by
    ``set_seed``). The trainer calls :meth:`set_epoch` at the start of each epoch.
    """

    seed: int
    epoch: int

    def init_sampling(self, seed: Optional[int]) -> None:
        """Set the seed (drawn from ``random`` when None) and epoch 0."""
        self.seed = seed if seed is not None else random.getrandbits(31)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Start drawing the groups of ``epoch``."""
        self.epoch = int(epoch)

    def rng_for(self, index: int) -> random.Random:
        """The generator of item ``index`` in the current epoch."""
        return random.Random(f"{self.seed}:{self.epoch}:{index}")


def sample_group(
    pos: Sequence[str],
    neg: Optional[Sequence[str]],
    group_size: int,
    pos_scores: Optional[Sequence[float]] = None,
    neg_scores: Optional[Sequence[float]] = None,
    rng: Any = random,
) -> Tuple[List[str], Optional[List[float]]]:
    """One positive (uniform) followed by ``group_size - 1`` negatives, with aligned teacher scores.

    With fewer negatives than needed the index list is repeated ``ceil(needed / len(neg))`` times and sampled
    without replacement (duplicates possible); otherwise distinct negatives are drawn. Scores are returned only
    when both score lists are given. ``rng`` is a ``random.Random`` (default: the ``random`` module).
    """
    pos_index = rng.randrange(len(pos))
    needed = group_size - 1
    neg = neg or []
    if needed > 0 and not neg:
        raise InputError(f"Cannot sample {needed} negative(s) for a query without 'neg' passages.")
    if needed <= 0:
        neg_indices: List[int] = []
    elif len(neg) < needed:
        neg_indices = rng.sample(list(range(len(neg))) * math.ceil(needed / len(neg)), needed)
    else:
        neg_indices = rng.sample(range(len(neg)), needed)
    passages = [pos[pos_index]] + [neg[i] for i in neg_indices]
    if pos_scores is None or neg_scores is None:
        return passages, None
    return passages, [float(pos_scores[pos_index])] + [float(neg_scores[i]) for i in neg_indices]


#: only texts longer than this many characters are shuffled, in this many chunks (FlagEmbedding 1.4.2's rule)
SHUFFLE_MIN_CHARS = 100
SHUFFLE_CHUNKS = 3


def shuffle_text(text: str, shuffle_ratio: float, rng: Any = random) -> str:
    """With probability ``shuffle_ratio``, cut a text longer than :data:`SHUFFLE_MIN_CHARS` characters into
    :data:`SHUFFLE_CHUNKS` chunks and shuffle them."""
    if shuffle_ratio > 0 and len(text) > SHUFFLE_MIN_CHARS and rng.random() < shuffle_ratio:
        size = len(text) // SHUFFLE_CHUNKS + 1
        chunks = [text[i:i + size] for i in range(0, len(text), size)]
        rng.shuffle(chunks)
        return " ".join(chunks)
    return text


def format_instruction(instruction_format: str, instruction: Optional[str], text: str) -> str:
    """``instruction_format.format(instruction, text)``; a None instruction means no instruction at all."""
    return text if instruction is None else instruction_format.format(instruction, text)


def row_value(row: Dict[str, Any], key: str, default: Any = None) -> Any:
    """``row[key]`` unless the column is absent or null (null means "not given" for optional fields)."""
    value = row.get(key)
    return default if value is None else value
