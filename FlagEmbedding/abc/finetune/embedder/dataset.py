"""Embedder training datasets (shuffled groups, or whole batches drawn from one file) and their collators."""
from __future__ import annotations

import logging
import os
import random
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import datasets
import numpy as np
import torch
from torch.utils.data import Dataset
from transformers import DataCollatorWithPadding, PreTrainedTokenizerBase, TrainerCallback

from FlagEmbedding.abc.finetune.common.data import (
    EpochSeededSampling,
    concatenate_aligned,
    format_instruction,
    list_data_files,
    load_checked_files,
    load_train_data,
    row_value,
    sample_group,
    shuffle_text,
)
from FlagEmbedding.abc.finetune.embedder.arguments import AbsEmbedderDataArguments
from FlagEmbedding.utils.errors import InputError

logger = logging.getLogger(__name__)

#: ``(query, passages of the group, teacher scores or None)``
EmbedderItem = Tuple[str, List[str], Optional[List[float]]]
#: same-dataset mode: ``(queries, passage groups, teacher scores or None, no_in_batch_neg flag)``, a whole batch
_SameDatasetBatch = Tuple[List[str], List[List[str]], Optional[List[List[float]]], bool]
SYMMETRIC_QUERY_STYLE_TYPES = ("symmetric_sts", "symmetric_clustering")
NO_IN_BATCH_NEG_SUFFIX = "no_in_batch_neg"


class AbsEmbedderTrainDataset(EpochSeededSampling, Dataset):
    """Every record of every ``train_data`` file, sampled as ``(query, group, teacher_scores)``.

    Args:
        args: Data arguments.
        tokenizer: Kept for subclasses that tokenize in the dataset.
        seed: Seed of the group sampling (see :class:`EpochSeededSampling`).
    """

    def __init__(self, args: AbsEmbedderDataArguments, tokenizer: PreTrainedTokenizerBase,
                 seed: Optional[int] = None):
        self.args = args
        self.tokenizer = tokenizer
        self.shuffle_ratio = args.shuffle_ratio
        self.init_sampling(seed)
        self.dataset = self.load_dataset()

    def load_dataset(self) -> datasets.Dataset:
        """Check and load all files (see :func:`~FlagEmbedding.abc.finetune.common.data.load_train_data`)."""
        if not self.args.train_data:
            raise InputError("train_data: at least one training file or folder is required.")
        return load_train_data(
            self.args.train_data, self.args.cache_path, self.args.max_example_num_per_dataset,
            self.args.knowledge_distillation, self.args.train_group_size,
        )

    def __len__(self) -> int:
        return len(self.dataset)

    def format_query(self, row: Dict[str, Any]) -> str:
        """Apply the instruction (row ``prompt`` first) when ``query_instruction_for_retrieval`` is set."""
        if self.args.query_instruction_for_retrieval is None:
            return row["query"]
        instruction = row_value(row, "prompt", self.args.query_instruction_for_retrieval)
        return format_instruction(self.args.query_instruction_format, instruction, row["query"])

    def format_passage(self, passage: str) -> str:
        """Apply ``passage_instruction_for_retrieval`` (if set) to one passage."""
        return format_instruction(
            self.args.passage_instruction_format, self.args.passage_instruction_for_retrieval, passage
        )

    def sample_passages(self, row: Dict[str, Any], group_size: int,
                        rng: random.Random) -> Tuple[List[str], Optional[List[float]]]:
        """Sample a group (positive first), shuffle the positive's chunks if asked; raw texts and scores."""
        passages, scores = sample_group(
            row["pos"], row.get("neg"), group_size, row.get("pos_scores"), row.get("neg_scores"), rng
        )
        passages[0] = shuffle_text(passages[0], self.shuffle_ratio, rng)
        return passages, scores

    def __getitem__(self, item: int) -> Union[EmbedderItem, _SameDatasetBatch]:
        # one EmbedderItem (AbsEmbedderSameDatasetTrainDataset returns a whole batch instead)
        row = self.dataset[item]
        passages, scores = self.sample_passages(row, self.args.train_group_size, self.rng_for(item))
        return self.format_query(row), [self.format_passage(p) for p in passages], scores


def same_dataset_group_size(row: Dict[str, Any], train_group_size: int) -> int:
    """Group size of a same-dataset batch, read from its first row's ``type`` / ``train_group_size``."""
    kind = row.get("type")
    if kind == "only_1neg":
        return 2
    if kind == "symmetric_class":
        return min(len(row.get("neg") or []) + 1, train_group_size)
    own = row.get("train_group_size")
    if kind is None and isinstance(own, int) and not isinstance(own, bool) and own > 0:
        return own
    return train_group_size


def has_no_in_batch_neg_name(path: str) -> bool:
    """True for a folder whose path ends with ``no_in_batch_neg`` or a file whose stem does."""
    if os.path.isdir(path):
        return path.rstrip("/" + os.sep).endswith(NO_IN_BATCH_NEG_SUFFIX)
    return os.path.splitext(os.path.basename(path))[0].endswith(NO_IN_BATCH_NEG_SUFFIX)


@dataclass
class SameDatasetPart:
    """One dataset of same-dataset mode: its rows, per-process batch size and no-in-batch flag."""

    name: str
    dataset: datasets.Dataset
    batch_size: int
    no_in_batch_neg: bool


class AbsEmbedderSameDatasetTrainDataset(AbsEmbedderTrainDataset):
    """Whole batches drawn from one training file at a time (``same_dataset_within_batch``).

    Every process builds the same chunk order from ``seed`` and takes its own contiguous slice of each chunk,
    so all processes of a step train on the same file. ``__getitem__`` ignores its index and returns the next
    batch as ``(queries, passage_groups, teacher_scores, no_in_batch_neg_flag)``.

    Args:
        args: Data arguments.
        default_batch_size: ``per_device_train_batch_size``.
        seed: Seed of the one numpy generator used for every epoch's order.
        tokenizer: Kept for subclasses.
        process_index: This process's rank.
        num_processes: World size.

    Group sampling inside a batch is seeded by ``(seed, epoch, batch number)``.
    """

    def __init__(
        self,
        args: AbsEmbedderDataArguments,
        default_batch_size: int,
        seed: int,
        tokenizer: PreTrainedTokenizerBase,
        process_index: int = 0,
        num_processes: int = 1,
    ):
        self.default_batch_size = default_batch_size
        self.process_index = process_index
        self.num_processes = num_processes
        self.generator = np.random.default_rng(seed)
        super().__init__(args, tokenizer, seed)
        self.parts: List[SameDatasetPart] = self.dataset
        self.batches: List[Tuple[int, np.ndarray]] = []
        self.step = 0
        self.refresh_epoch()

    def load_dataset(self) -> List[SameDatasetPart]:
        """One part per file; small files of a folder pooled, too-small parts dropped."""
        if not self.args.train_data:
            raise InputError("train_data: at least one training file or folder is required.")
        parts: List[SameDatasetPart] = []
        for entry in self.args.train_data:
            parts.extend(self.load_entry(entry))
        if not parts:
            raise InputError(
                f"train_data {self.args.train_data} left no dataset to train on in same-dataset mode "
                f"(small_threshold={self.args.small_threshold}, drop_threshold={self.args.drop_threshold})."
            )
        return parts

    def load_entry(self, entry: str) -> List[SameDatasetPart]:
        """Parts of one ``train_data`` entry (a file, or a folder's files)."""
        is_folder = os.path.isdir(entry)
        folder_flag = is_folder and has_no_in_batch_neg_name(entry)
        loaded = load_checked_files(
            list_data_files(entry), self.args.cache_path, self.args.max_example_num_per_dataset,
            self.args.knowledge_distillation, self.args.train_group_size, same_dataset_group_size,
        )
        parts, small = [], []
        for path, dataset in loaded:
            part = SameDatasetPart(path, dataset, self.part_batch_size(dataset[0]),
                                   folder_flag or has_no_in_batch_neg_name(path))
            if len(dataset) >= self.args.small_threshold:
                parts.append(part)
            elif is_folder:
                small.append(part)
            else:
                logger.info("Dropping %s: %d rows < small_threshold %d.", path, len(dataset),
                            self.args.small_threshold)
        if small:
            pooled = concatenate_aligned([part.dataset for part in small])
            if len(pooled) < self.args.drop_threshold:
                logger.info("Dropping the %d pooled small files of %s: %d rows < drop_threshold %d.",
                            len(small), entry, len(pooled), self.args.drop_threshold)
            else:
                parts.append(SameDatasetPart(f"{entry} (pooled small files)", pooled,
                                             min(part.batch_size for part in small), folder_flag))
        return parts

    def part_batch_size(self, first_row: Dict[str, Any]) -> int:
        """Per-process batch size of a file: its ``batch_size`` column, else half the default for symmetric
        types, else the default."""
        own = first_row.get("batch_size")
        if own is not None:
            return int(own)
        if "symmetric" in (first_row.get("type") or ""):
            return max(1, self.default_batch_size // 2)
        return self.default_batch_size

    def refresh_epoch(self) -> None:
        """Reshuffle files and rows and cut them into ``batch_size x num_processes`` chunks (tails dropped)."""
        chunks: List[Tuple[int, np.ndarray]] = []
        for index in self.generator.permutation(len(self.parts)):
            part = self.parts[index]
            rows = self.generator.permutation(len(part.dataset))
            size = part.batch_size * self.num_processes
            chunks.extend((int(index), rows[start:start + size]) for start in range(0, len(rows) - size + 1, size))
        order = self.generator.permutation(len(chunks))
        self.batches = [chunks[i] for i in order]
        self.step = 0
        logger.info("Same-dataset mode: %d batches this epoch.", len(self.batches))

    def __len__(self) -> int:
        return len(self.batches) * self.num_processes

    def __getitem__(self, _: int) -> _SameDatasetBatch:
        number = self.step % len(self.batches)
        part_index, rows = self.batches[number]
        self.step += 1
        part = self.parts[part_index]
        mine = rows[self.process_index * part.batch_size:(self.process_index + 1) * part.batch_size]
        columns = part.dataset[[int(i) for i in mine]]
        batch = [dict(zip(columns, values)) for values in zip(*columns.values())]
        return self.build_batch(batch, part, self.rng_for(number))

    def check_same_type(self, batch: Sequence[Dict[str, Any]], part: SameDatasetPart) -> Optional[str]:
        """The batch's common ``type``; a ``ValueError`` naming the file if rows disagree."""
        kinds = {row.get("type") for row in batch}
        if len(kinds) > 1:
            raise InputError(f"{part.name}: rows of one batch must share 'type', found {sorted(map(str, kinds))}.")
        return kinds.pop()

    def format_query_style(self, row: Dict[str, Any], text: str) -> str:
        """Query-side formatting: row ``prompt``, else ``query_instruction_for_retrieval``, else none."""
        instruction = row_value(row, "prompt", self.args.query_instruction_for_retrieval)
        return format_instruction(self.args.query_instruction_format, instruction, text)

    def build_batch(
        self, batch: Sequence[Dict[str, Any]], part: SameDatasetPart, rng: random.Random
    ) -> _SameDatasetBatch:
        """Format the rows of one batch; teacher scores only if every row has them."""
        kind = self.check_same_type(batch, part)
        group_size = same_dataset_group_size(batch[0], self.args.train_group_size)
        queries, groups, scores = [], [], []
        for row in batch:
            queries.append(self.format_query_style(row, row["query"]))
            passages, row_scores = self.sample_passages(row, group_size, rng)
            if kind in SYMMETRIC_QUERY_STYLE_TYPES:
                groups.append([self.format_query_style(row, p) for p in passages])
            else:
                groups.append([self.format_passage(p) for p in passages])
            scores.append(row_scores)
        known = [s for s in scores if s is not None]
        teacher = known if len(known) == len(scores) else None
        return queries, groups, teacher, part.no_in_batch_neg


TokenizedBatch = Union[Dict[str, torch.Tensor], List[Dict[str, torch.Tensor]]]


@dataclass
class AbsEmbedderCollator(DataCollatorWithPadding):
    """Tokenize queries and flattened passage groups; pad to the longest (``pad_to_multiple_of`` honoured).

    Returns ``{"queries", "passages", "teacher_scores", "no_in_batch_neg_flag"}``; with ``sub_batch_size > 0``
    queries and passages are lists of separately padded chunks of that many rows.
    """

    query_max_len: int = 32
    passage_max_len: int = 128
    sub_batch_size: int = -1

    def __call__(self, features: Sequence[EmbedderItem]) -> Dict[str, Any]:  # type: ignore[override]
        return self.collate([f[0] for f in features], [f[1] for f in features], [f[2] for f in features], False)

    def collate(
        self,
        queries: Sequence[str],
        groups: Sequence[Sequence[str]],
        scores: Optional[Sequence[Optional[Sequence[float]]]],
        no_in_batch_neg_flag: bool,
    ) -> Dict[str, Any]:
        """Shared by both collators: tokenize, flatten, pad."""
        passages = [p for group in groups for p in group]
        teacher = None
        known = [group for group in scores if group is not None] if scores is not None else []
        if scores is not None and scores and len(known) == len(scores):
            teacher = [float(s) for group in known for s in group] or None
        return {
            "queries": self.tokenize(list(queries), self.query_max_len),
            "passages": self.tokenize(passages, self.passage_max_len),
            "teacher_scores": teacher,
            "no_in_batch_neg_flag": no_in_batch_neg_flag,
        }

    def encode_texts(self, texts: List[str], max_length: int) -> Dict[str, List[List[int]]]:
        """Unpadded token ids (and masks) of ``texts``, truncated to ``max_length``."""
        return self.tokenizer(texts, truncation=True, max_length=max_length, padding=False, return_tensors=None).data

    def tokenize(self, texts: List[str], max_length: int) -> TokenizedBatch:
        """Token ids truncated to ``max_length``, padded as one batch or as ``sub_batch_size`` chunks."""
        encoded = self.encode_texts(texts, max_length)
        if self.sub_batch_size is None or self.sub_batch_size <= 0:
            return self.pad(encoded)
        step = self.sub_batch_size
        return [self.pad({k: v[i:i + step] for k, v in encoded.items()}) for i in range(0, len(texts), step)]

    def pad(self, features: Dict[str, List[List[int]]]) -> Dict[str, torch.Tensor]:
        """Pad a dict of id lists to tensors."""
        return dict(self.tokenizer.pad(
            features, padding=self.padding, pad_to_multiple_of=self.pad_to_multiple_of,
            return_tensors=self.return_tensors,
        ))


@dataclass
class AbsEmbedderSameDatasetCollator(AbsEmbedderCollator):
    """Collator for same-dataset mode: the one feature is an already built batch (and its flag)."""

    def __call__(self, features: Sequence[Any]) -> Dict[str, Any]:
        queries, groups, scores, flag = features[0]
        return self.collate(queries, groups, scores, flag)


class EmbedderTrainerCallbackForDataRefresh(TrainerCallback):
    """Calls ``train_dataset.refresh_epoch()`` at the end of every epoch (same-dataset mode)."""

    def __init__(self, train_dataset: AbsEmbedderSameDatasetTrainDataset):
        self.train_dataset = train_dataset

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Draw the next epoch's batches."""
        self.train_dataset.refresh_epoch()
