"""Split training files by token length so each split can use its own batch size.

``python scripts/split_data_by_length.py --input_path data/ --output_dir split/ --length_list 0 500 1000``
writes ``<stem>_len-<l>-<r>.jsonl`` per non-empty range and appends a summary line per file to ``.split_log``.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import datasets
from transformers import AutoTokenizer

from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.cli import ArgumentParser, configure_logging, run_cli
from FlagEmbedding.utils.files import atomic_write_jsonl
from FlagEmbedding.utils.errors import InputError, MissingFileError

logger = logging.getLogger(__name__)
DEFAULT_LENGTHS = [0, 500, 1000, 2000, 3000, 4000, 5000, 6000, 7000]
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass
class SplitArgs:
    """The command-line options (see the module docstring)."""

    input_path: str = field(metadata={"help": "A .jsonl file or a folder of them."})
    output_dir: str = field(metadata={"help": "Where the splits are written."})
    cache_dir: Optional[str] = field(default=None, metadata={"help": "Cache of models and the datasets builder."})
    log_name: str = field(default=".split_log", metadata={"help": "Summary file inside output_dir."})
    length_list: List[int] = field(default_factory=lambda: list(DEFAULT_LENGTHS),
                                   metadata={"help": "Range boundaries in tokens."})
    model_name_or_path: str = field(default="BAAI/bge-m3", metadata={"help": "Tokenizer to count with."})
    num_proc: int = field(default=16, metadata={"help": "Processes for tokenization."})
    overwrite: bool = field(default=False, metadata={"help": "Rewrite splits that already exist."})


def length_ranges(length_list: Sequence[int]) -> List[Tuple[int, float]]:
    """Sorted boundaries -> ``[l_i, l_{i+1})`` ranges plus ``[l_n, inf)``; boundaries must be >= 0 and distinct."""
    bounds = sorted(length_list)
    ranges: List[Tuple[int, float]] = list(zip(bounds[:-1], bounds[1:])) + [(bounds[-1], float("inf"))]
    for low, high in ranges:
        if not 0 <= low < high:
            raise InputError(f"length_list must hold distinct non-negative values, got {list(length_list)}.")
    return ranges


def range_name(low: int, high: float) -> str:
    """``len-<l>-<r>`` with ``inf`` for the open range."""
    return f"len-{low}-{'inf' if high == float('inf') else int(high)}"


def input_files(input_path: str) -> List[str]:
    """The file itself, or a folder's ``.jsonl`` files (sorted)."""
    if os.path.isdir(input_path):
        return [os.path.join(input_path, name) for name in sorted(os.listdir(input_path)) if name.endswith(".jsonl")]
    if not os.path.isfile(input_path):
        raise MissingFileError(f"input_path: cannot find {input_path!r}.")
    return [input_path]


def record_lengths(dataset: datasets.Dataset, tokenizer: Any, num_proc: int) -> datasets.Dataset:
    """Adds ``__length``: the most tokens (special tokens included) of the query, any pos and any neg."""

    def measure(batch: Dict[str, List[Any]]) -> Dict[str, List[int]]:
        lengths = []
        negatives = batch.get("neg") or [None] * len(batch["query"])
        for query, positives, negs in zip(batch["query"], batch["pos"], negatives):
            texts = [query] + list(positives or []) + list(negs or [])
            lengths.append(max(len(ids) for ids in tokenizer(texts)["input_ids"]))
        return {"__length": lengths}

    processes = max(1, min(num_proc, len(dataset)))
    return dataset.map(measure, batched=True, num_proc=processes if processes > 1 else None)


def split_file(path: str, output_dir: str, ranges: Sequence[Tuple[int, float]], tokenizer: Any,
               cache_dir: Optional[str], num_proc: int, overwrite: bool) -> Dict[str, Any]:
    """Write the non-empty splits of one file; return its summary line."""
    start = time.strftime(TIME_FORMAT)
    dataset = datasets.load_dataset("json", data_files=path, split="train", cache_dir=cache_dir)
    measured = record_lengths(dataset, tokenizer, num_proc)
    lengths = measured["__length"]
    stem = os.path.splitext(os.path.basename(path))[0]
    split_info = {}
    for low, high in ranges:
        name = range_name(low, high)
        rows = [i for i, length in enumerate(lengths) if low <= length < high]
        split_info[name] = len(rows)
        target = os.path.join(output_dir, f"{stem}_{name}.jsonl")
        if not rows:
            continue
        if os.path.exists(target) and not overwrite:
            logger.warning("%s exists; skipping it (pass --overwrite to rewrite).", target)
            continue
        atomic_write_jsonl(target, (dataset[i] for i in rows), ensure_ascii=False)
    return {
        "file_name": os.path.basename(path),
        "size": len(dataset),
        "avg_length": float(sum(lengths) / len(lengths)) if lengths else 0.0,
        "file_path": path,
        "start_time": start,
        "end_time": time.strftime(TIME_FORMAT),
        "split_info": split_info,
    }


def run(args: SplitArgs) -> List[Dict[str, Any]]:
    """Split every input file and append the summaries to ``<output_dir>/<log_name>``."""
    ranges = length_ranges(args.length_list)
    files = input_files(args.input_path)
    tokenizer = from_pretrained(AutoTokenizer.from_pretrained, args.model_name_or_path, cache_dir=args.cache_dir)
    os.makedirs(args.output_dir, exist_ok=True)
    summaries = []
    for path in files:
        summary = split_file(path, args.output_dir, ranges, tokenizer, args.cache_dir, args.num_proc,
                             args.overwrite)
        with open(os.path.join(args.output_dir, args.log_name), "a", encoding="utf-8") as log:
            log.write(json.dumps(summary, ensure_ascii=False) + "\n")
        summaries.append(summary)
    return summaries


#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python scripts/split_data_by_length.py --input_path train_data --output_dir train_data_split "
    "--length_list 0 500 1000 2000 3000 4000 5000 6000 7000 --model_name_or_path BAAI/bge-m3",
    "python scripts/split_data_by_length.py --input_path train.jsonl --output_dir train_data_split "
    "--length_list 0 256 512 --model_name_or_path BAAI/bge-base-en-v1.5 --num_proc 4 --overwrite True",
)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point (``scripts/split_data_by_length.py``)."""
    configure_logging()
    (args,) = ArgumentParser([SplitArgs], description=__doc__, examples=EXAMPLES).parse_args_into_dataclasses(argv)
    run(args)


if __name__ == "__main__":
    run_cli(main)
