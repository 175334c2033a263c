"""Hard-negative mining: replace each record's ``neg`` with passages an embedder ranks high but are not positives.

``python scripts/hn_mine.py --input_file in.jsonl --output_file out.jsonl --embedder_name_or_path MODEL
--range_for_sampling 2-200 --negative_number 15`` (see docs/guides/finetune_data.rst). Optional false-negative
filters (``--max_score``, ``--absolute_margin``, ``--relative_margin``; embedder scores and, with
``--reranker_name_or_path``, reranker scores), ``--sampling_strategy``, ``--underfilled`` and ``--output_scores``;
a JSON statistics file is written next to the output (``--stats_file``).
"""
from __future__ import annotations

import logging
import math
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np
from tqdm.auto import tqdm

from FlagEmbedding.retrieval import distributed
from FlagEmbedding.retrieval.embedding_cache import CORPUS_STAGE, CorpusEmbeddingCache, embedder_fingerprint
from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs
from FlagEmbedding.abc.evaluation.models import load_embedder, load_reranker
from FlagEmbedding.abc.finetune.common.arguments import unused_field, warn_unused
from FlagEmbedding.abc.finetune.common.data import iter_json_records
from FlagEmbedding.finetune.data_scripts.common import read_records
from FlagEmbedding.finetune.data_scripts.negative_filters import (
    FILTER_NAMES, SAMPLING_STRATEGIES, UNDERFILLED_ACTIONS, NegativeFilters, count_summary, empty_counts,
    filter_candidates, positive_reference, sample_negatives,
)
from FlagEmbedding.inference.options import side_model_args
from FlagEmbedding.retrieval.dense import DenseIndex, dense_array
from FlagEmbedding.utils.cli import ArgumentParser, configure_logging, run_cli
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_json, atomic_write_jsonl
from FlagEmbedding.utils.progress import JobSummary, stage_bar

logger = logging.getLogger(__name__)


@dataclass
class DataArgs:
    """Input/output files and how negatives are sampled."""

    input_file: str = field(metadata={"help": "JSONL training data with query / pos (/ neg)."})
    output_file: str = field(metadata={"help": "Where the records with mined negatives are written."})
    candidate_pool: Optional[str] = field(
        default=None, metadata={"help": "JSONL with a 'text' per line to mine from (default: all pos + neg)."}
    )
    range_for_sampling: str = field(
        default="10-210", metadata={"help": "Ranks 'a-b' (0-based, b exclusive) negatives are drawn from."}
    )
    negative_number: int = field(default=15, metadata={"help": "Negatives per query."})
    use_gpu_for_searching: bool = unused_field(False, "the exact search runs on a GPU whenever one is available.")
    search_batch_size: int = unused_field(64, "the exact search batches the queries itself.")
    corpus_embd_save_dir: Optional[str] = field(
        default=None,
        metadata={"help": "Cache the candidate vectors here (sharded and fingerprinted; a killed run resumes). "
                          "Required under torchrun with several processes, which share the encoding through it."},
    )
    corpus_embd_shard_size: int = field(default=100_000, metadata={"help": "Candidates per cache shard."})
    max_score: Optional[float] = field(
        default=None, metadata={"help": "Drop candidates scoring above this (embedder similarity; with "
                                        "--reranker_name_or_path also the reranker's score)."})
    absolute_margin: Optional[float] = field(
        default=None, metadata={"help": "Keep a candidate only if its score < score(least similar positive) - M."})
    relative_margin: Optional[float] = field(
        default=None, metadata={"help": "Keep a candidate only if its score < p - R*|p|, p the least similar "
                                        "positive's score (p*(1-R) for p >= 0); 0 <= R < 1."})
    sampling_strategy: str = field(
        default="random", metadata={"help": "random (1.4.2): a random sample of the candidates left in the range; "
                                            "top: the best-ranked ones.", "choices": list(SAMPLING_STRATEGIES)})
    underfilled: str = field(
        default="random", metadata={"help": "A query left with fewer than negative_number candidates: random "
                                             "(1.4.2): top up with random corpus passages; keep: write it with fewer; "
                                             "drop: leave the record out; pad: add the best-ranked candidates below "
                                             "the range that pass the filters.", "choices": list(UNDERFILLED_ACTIONS)})
    output_scores: bool = field(
        default=False, metadata={"help": "Write pos_scores / neg_scores (the reranker's when one is given, else the "
                                         "embedder's) for distillation."})
    stats_file: Optional[str] = field(
        default=None, metadata={"help": "Where the JSON mining statistics are written (default: "
                                        "<output_file>.stats.json)."})

    def __post_init__(self) -> None:
        self.filters()  # bad filter values fail while parsing, before any model loads

    def filters(self) -> NegativeFilters:
        """The score filters these arguments set."""
        return NegativeFilters(self.max_score, self.absolute_margin, self.relative_margin)

    def stats_path(self) -> str:
        """``stats_file``, or ``<output_file>.stats.json``."""
        return self.stats_file or f"{self.output_file}.stats.json"


#: The embedder used for mining (loaded with ``FlagAutoModel.from_finetuned``) and the optional reranker that
#: rescores the candidates (``FlagAutoReranker.from_finetuned``): the evaluation's embedder and reranker arguments
#: (:func:`~FlagEmbedding.inference.options.side_model_args`; the shared ones such as ``--devices`` and
#: ``--use_fp16`` apply to both), with 1.4.2's ``--batch_size`` and ``--pooling_method cls`` for the embedder;
#: ``--use_bf16`` (which 1.4.2 did not have here) defaults to the class's own setting.
ModelArgs = side_model_args(
    "ModelArgs", ("embedder", "reranker"), AbsEvalModelArgs, rename={"embedder_batch_size": "batch_size"},
    defaults={"pooling_method": "cls", "use_bf16": None}, module=__name__,
    doc="The embedder used for mining (loaded with ``FlagAutoModel.from_finetuned``) and the optional reranker "
        "that rescores the candidates; the embedder and reranker fields of "
        ":class:`~FlagEmbedding.abc.evaluation.arguments.AbsEvalModelArgs`, with ``batch_size`` for "
        "``embedder_batch_size``, ``pooling_method`` defaulting to ``cls`` and ``use_bf16`` to the class default.",
)


def parse_range(text: str) -> Tuple[int, int]:
    """``"a-b"`` -> ``(a, b)`` with ``0 <= a < b``; ``ValueError`` naming ``range_for_sampling`` otherwise."""
    try:
        start, end = (int(part) for part in text.split("-"))
    except ValueError:
        raise InputError(f"range_for_sampling must look like '10-210', got {text!r}.") from None
    if not 0 <= start < end:
        raise InputError(f"range_for_sampling needs 0 <= start < end, got {text!r}.")
    return start, end


def search(corpus_vectors: np.ndarray, query_vectors: np.ndarray, top_k: int) -> np.ndarray:
    """Exact inner-product top-``top_k`` corpus rows per query (the package's one dense search, on the GPU when
    one is available)."""
    return DenseIndex([corpus_vectors]).search(query_vectors, top_k)[1]


def choose_negatives(
    query: str, positives: Sequence[str], ranked_ids: Sequence[int], corpus: Sequence[str], negative_number: int,
) -> List[str]:
    """Negatives of one query from its ranked candidates (already cut to the sampling range), as 1.4.2 chose them.

    Drops -1 ids, positives and the query itself; samples ``negative_number`` of the rest, or tops up with random
    corpus texts that are neither positives, the query nor already chosen (fewer if the corpus runs out).
    """
    excluded = set(positives) | {query}
    candidates = range_candidates(ranked_ids, corpus, excluded)
    chosen = sample_negatives(candidates, negative_number)
    return chosen + random_top_up(corpus, excluded | set(chosen), negative_number - len(chosen))


def range_candidates(ranked_ids: Sequence[int], corpus: Sequence[str], excluded: Set[str]) -> List[str]:
    """The texts of ``ranked_ids`` in rank order, without -1 ids, ``excluded`` texts and repeats."""
    return list(dict.fromkeys(corpus[i] for i in ranked_ids if i != -1 and corpus[i] not in excluded))


def random_top_up(pool_texts: Sequence[str], excluded: Set[str], number: int) -> List[str]:
    """``number`` random texts of ``pool_texts`` that are not ``excluded`` (fewer if they run out; none for
    ``number <= 0``), drawn with the module's generator as 1.4.2 drew its top-up."""
    if number <= 0:
        return []
    pool = [text for text in pool_texts if text not in excluded]
    return random.sample(pool, min(number, len(pool)))


def encode_candidates(embedder: Any, corpus: List[str], corpus_embd_save_dir: Optional[str] = None,
                      shard_rows: int = 100_000) -> Optional[np.ndarray]:
    """Candidate vectors, through the corpus-embedding cache when ``corpus_embd_save_dir`` is set.

    Under torchrun (several processes) every rank encodes its share of the cache shards; rank 0 waits for
    the others and gets the vectors, the other ranks get ``None``.
    """
    def encode(texts: List[str]) -> np.ndarray:
        return dense_array(embedder.encode_corpus(texts))

    distributed.require_shared_folder(corpus_embd_save_dir)
    if corpus_embd_save_dir is None:
        with stage_bar(len(corpus), CORPUS_STAGE, unit="doc"):
            return encode(corpus)
    cache = CorpusEmbeddingCache(corpus_embd_save_dir, embedder_fingerprint(embedder),
                                 [str(row) for row in range(len(corpus))], corpus, shard_rows=shard_rows)
    if distributed.is_distributed():
        cache.encode_assigned(encode)
        distributed.barrier()
        if distributed.world()[0] != 0:
            return None
    return dense_array(np.concatenate(cache.load_or_encode(encode), axis=0))


@dataclass
class _Query:
    """One record being mined: its query vector, the texts it may not get, its candidates and their scores."""

    record: Dict[str, Any]
    vector: np.ndarray
    excluded: Set[str]
    candidates: List[str]
    positive_scores_embedder: List[float] = field(default_factory=list)
    positive_scores: List[float] = field(default_factory=list)  # the reranker's, with a reranker
    scores: Dict[str, float] = field(default_factory=dict)  # the final scorer's score of each candidate scored
    chosen: List[str] = field(default_factory=list)
    searched_to: int = 0  # the search depth this query's candidates were taken from (pad continues below it)


class _Scorer:
    """Scores (query, text) pairs with the embedder (inner product of the vectors, as the search ranks) and the
    optional reranker (``compute_score``, raw unless ``--normalize``)."""

    def __init__(self, embedder: Any, corpus: List[str], corpus_vectors: np.ndarray, reranker: Any = None):
        self.embedder, self.corpus, self.corpus_vectors, self.reranker = embedder, corpus, corpus_vectors, reranker
        self.row = {text: row for row, text in enumerate(corpus)}

    def embedder_scores(self, query: _Query, texts: Sequence[str]) -> List[float]:
        """Inner products of the query vector with the corpus vectors of ``texts`` (corpus texts)."""
        if not texts:
            return []
        rows = [self.row[text] for text in texts]
        return [float(score) for score in self.corpus_vectors[rows] @ query.vector]

    def embedder_positive_scores(self, queries: Sequence[_Query]) -> List[List[float]]:
        """Each query's positives scored by the embedder (positives outside the corpus are encoded once)."""
        missing = list(dict.fromkeys(text for query in queries for text in query.record["pos"] if text not in self.row))
        extra: Dict[str, np.ndarray] = {}
        if missing:
            extra = dict(zip(missing, dense_array(self.embedder.encode_corpus(missing))))
        scores = []
        for query in queries:
            vectors = [extra[text] if text in extra else self.corpus_vectors[self.row[text]]
                       for text in query.record["pos"]]
            scores.append([float(np.dot(vector, query.vector)) for vector in vectors])
        return scores

    def rerank(self, pairs: List[List[str]]) -> List[float]:
        """Reranker scores of ``pairs`` in one ``compute_score`` call (finite floats, one per pair)."""
        if not pairs:
            return []
        with stage_bar(len(pairs), "Reranking", unit="pair"):
            scores = self.reranker.compute_score(pairs)
        values = [float(score) for score in ([scores] if isinstance(scores, (int, float)) else scores)]
        if len(values) != len(pairs):
            raise ValueError(f"The reranker returned {len(values)} scores for {len(pairs)} pairs.")
        if not all(math.isfinite(value) for value in values):
            raise ValueError("The reranker returned a NaN or infinite score; check the model and its precision "
                             "(e.g. --use_fp16 False).")
        return values


def _rerank_and_filter(scorer: _Scorer, batches: Sequence[Tuple[_Query, List[str]]], filters: NegativeFilters,
                       removed: Dict[str, int]) -> List[List[str]]:
    """The texts of each ``(query, texts)`` the filters keep on reranker scores (one ``compute_score`` call; the
    scores are recorded in ``query.scores``)."""
    pairs = [[query.record["query"], text] for query, texts in batches for text in texts]
    scores = iter(scorer.rerank(pairs))
    kept = []
    for query, texts in batches:
        text_scores = [next(scores) for _ in texts]
        query.scores.update(zip(texts, text_scores))
        kept.append(filter_candidates(texts, text_scores, positive_reference(query.positive_scores), filters,
                                      removed))
    return kept


def _new_stats(start: int, end: int, negative_number: int, filters: NegativeFilters, sampling_strategy: str,
               underfilled: str, reranker: bool) -> Dict[str, Any]:
    return {
        "range_for_sampling": [start, end], "negative_number": negative_number,
        "filters": {name: getattr(filters, name) for name in FILTER_NAMES},
        "scores": "reranker" if reranker else "embedder",
        "sampling_strategy": sampling_strategy, "underfilled_action": underfilled,
        "queries": 0, "candidates_seen": 0,
        "removed": {"embedder": empty_counts(), **({"reranker": empty_counts()} if reranker else {})},
        "removed_total": 0, "queries_underfilled": 0, "underfilled_records": [],
        "filled": {"candidates_seen": 0, "added": 0,
                   "removed": {"embedder": empty_counts(), **({"reranker": empty_counts()} if reranker else {})}},
        "records_written": 0, "records_dropped": 0, "records_short": 0, "records_without_negatives": [],
        "negatives_per_query": {"min": None, "median": None},
        "seconds": {},
    }


def _pad(queries: Sequence[_Query], scorer: _Scorer, index: DenseIndex, end: int, negative_number: int,
         filters: NegativeFilters, stats: Dict[str, Any]) -> None:
    """Fill ``queries`` with the best-ranked passages below their search depth that pass the filters, searching
    twice as deep each round until they are full or the corpus is exhausted. A reranker rescores in rounds of what
    each query still needs, doubled for every earlier round that left that query short (few calls where it rejects
    many, no extra scoring where it accepts; the same passages chosen)."""
    size = len(scorer.corpus)
    pending = [query for query in queries if len(query.chosen) < negative_number]
    progress = stage_bar(sum(negative_number - len(query.chosen) for query in pending), "Padding from below the "
                         "range", unit="negative", disable=not pending)
    short_rounds: Dict[int, int] = {}  # per query: its reranking rounds that left it short (each doubles the next)
    while pending:
        depth = min(size, max(2 * max(query.searched_to for query in pending), end + 2 * negative_number))
        ids = index.search(np.stack([query.vector for query in pending]), depth)[1]
        batches = []
        for query, ranked in zip(pending, ids):
            texts = range_candidates(list(ranked[query.searched_to:depth]), scorer.corpus,
                                     query.excluded | set(query.chosen))
            query.searched_to = depth
            stats["filled"]["candidates_seen"] += len(texts)
            if filters.active:
                texts = filter_candidates(texts, scorer.embedder_scores(query, texts),
                                          positive_reference(query.positive_scores_embedder), filters,
                                          stats["filled"]["removed"]["embedder"])
            batches.append((query, texts))
        while batches:  # with a reranker, rescore in rounds (texts that fail its filters make more rounds)
            round_ = [(query, texts[:(negative_number - len(query.chosen)) << short_rounds.get(id(query), 0)])
                      for query, texts in batches]
            kept = (_rerank_and_filter(scorer, round_, filters, stats["filled"]["removed"]["reranker"])
                    if scorer.reranker is not None else [texts for _, texts in round_])
            for (query, _), texts in zip(round_, kept):
                added = texts[:negative_number - len(query.chosen)]
                query.chosen.extend(added)
                stats["filled"]["added"] += len(added)
                progress.update(len(added))
                if len(query.chosen) < negative_number:
                    short_rounds[id(query)] = short_rounds.get(id(query), 0) + 1
            batches = [(query, texts[len(taken):]) for (query, texts), (_, taken) in zip(batches, round_)
                       if len(query.chosen) < negative_number and len(texts) > len(taken)]
        pending = [query for query in pending if len(query.chosen) < negative_number and query.searched_to < size]
    progress.close()


def mine_hard_negatives(
    embedder: Any,
    records: List[Dict[str, Any]],
    corpus: Optional[List[str]],
    range_for_sampling: str = "10-210",
    negative_number: int = 15,
    use_gpu_for_searching: bool = False,
    corpus_embd_save_dir: Optional[str] = None,
    corpus_embd_shard_size: int = 100_000,
    filters: Optional[NegativeFilters] = None,
    sampling_strategy: str = "random",
    underfilled: str = "random",
    reranker: Any = None,
    output_scores: bool = False,
    stats: Optional[Dict[str, Any]] = None,
) -> Optional[List[Dict[str, Any]]]:
    """Records with ``neg`` replaced by mined negatives (other fields, incl. stale ``neg_scores``, kept).

    ``corpus`` defaults to the de-duplicated union of all ``pos`` and ``neg`` texts. ``use_gpu_for_searching`` is
    accepted for compatibility: the search uses a GPU whenever one is available. The candidate vectors are
    cached in ``corpus_embd_save_dir`` when given (see :func:`encode_candidates`); under torchrun only rank 0
    mines (the other ranks return ``None`` once their share of the candidates is encoded).

    The candidates of a query are its search ranks ``range_for_sampling`` minus its positives and the query
    text. ``filters`` (:class:`~FlagEmbedding.finetune.data_scripts.negative_filters.NegativeFilters`) remove
    those scoring too close to the query's least similar positive, on the embedder's scores and then, with a
    ``reranker``, on the reranker's scores of the survivors. ``sampling_strategy`` picks ``negative_number`` of
    the rest (``random`` or ``top``); a query left with fewer is handled as ``underfilled`` says (``random``:
    top up with random corpus passages that pass the embedder filters, and the reranker's when given, as 1.4.2
    did without filters; ``keep``; ``drop`` the record; ``pad`` with the best-ranked passages below the range that
    pass the filters). ``output_scores`` writes ``pos_scores`` / ``neg_scores`` (the reranker's scores when one is
    given, else the embedder's). ``stats``, when given, receives the counts of the run (see the data guide).
    With the defaults the output is what 1.4.2's sampling gives (the same draws of the ``random`` module).
    """
    if sampling_strategy not in SAMPLING_STRATEGIES:
        raise ValueError(f"sampling_strategy must be one of {', '.join(SAMPLING_STRATEGIES)}, "
                         f"got {sampling_strategy!r}.")
    if underfilled not in UNDERFILLED_ACTIONS:
        raise ValueError(f"underfilled must be one of {', '.join(UNDERFILLED_ACTIONS)}, got {underfilled!r}.")
    filters = filters or NegativeFilters()
    start, end = parse_range(range_for_sampling)
    summary = _new_stats(start, end, negative_number, filters, sampling_strategy, underfilled, reranker is not None)
    seconds = summary["seconds"]
    began = clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[stage] = round(seconds.get(stage, 0.0) + now - clock, 3)
        clock = now

    if corpus is None:
        corpus = [text for record in records for text in list(record["pos"]) + list(record.get("neg") or [])]
    corpus = list(dict.fromkeys(corpus))
    if not corpus:
        raise InputError("The candidate corpus is empty: records have no pos/neg texts and no candidate_pool.")
    logger.info("Encoding %d corpus texts and %d queries.", len(corpus), len(records))
    corpus_vectors = encode_candidates(embedder, corpus, corpus_embd_save_dir, corpus_embd_shard_size)
    if corpus_vectors is None:
        return None
    with stage_bar(len(records), "Encoding queries", unit="query"):
        query_vectors = dense_array(embedder.encode_queries([record["query"] for record in records]))
    lap("encode")
    index = DenseIndex([corpus_vectors])
    depth = min(end, len(corpus))
    ranked = index.search(query_vectors, depth)[1]
    lap("search")

    scorer = _Scorer(embedder, corpus, corpus_vectors, reranker)
    queries = []
    for record, vector, ids in zip(records, query_vectors, ranked):
        excluded = set(record["pos"]) | {record["query"]}
        queries.append(_Query(record, vector, excluded, range_candidates(list(ids[start:end]), corpus, excluded),
                              searched_to=depth))
    summary["queries"] = len(queries)
    summary["candidates_seen"] = sum(len(query.candidates) for query in queries)
    if filters.needs_positive or output_scores:
        for query, scores in zip(queries, scorer.embedder_positive_scores(queries)):
            query.positive_scores_embedder = scores
    if filters.active:
        for query in tqdm(queries, desc="Filtering (embedder scores)"):
            query.candidates = filter_candidates(query.candidates, scorer.embedder_scores(query, query.candidates),
                                                 positive_reference(query.positive_scores_embedder), filters,
                                                 summary["removed"]["embedder"])
    lap("embedder_filter")
    if reranker is not None:
        positive_pairs = [[query.record["query"], text] for query in queries for text in query.record["pos"]]
        positive_scores = iter(scorer.rerank(positive_pairs))
        for query in queries:
            query.positive_scores = [next(positive_scores) for _ in query.record["pos"]]
        logger.info("Reranking %d candidates of %d queries.", sum(len(q.candidates) for q in queries), len(queries))
        kept = _rerank_and_filter(scorer, [(query, query.candidates) for query in queries], filters,
                                  summary["removed"]["reranker"])
        for query, candidates in zip(queries, kept):
            query.candidates = candidates
        lap("rerank")

    top_ups: List[Tuple[_Query, List[str]]] = []
    for number, query in enumerate(tqdm(queries, desc="Choosing negatives"), start=1):
        query.chosen = sample_negatives(query.candidates, negative_number, sampling_strategy)
        if len(query.chosen) < negative_number:
            summary["queries_underfilled"] += 1
            summary["underfilled_records"].append(number)
            if underfilled == "random":
                pool: Sequence[str] = corpus
                if filters.active:
                    pool_scores = corpus_vectors @ query.vector
                    pool = filter_candidates(corpus, pool_scores, positive_reference(query.positive_scores_embedder),
                                             filters)
                top_ups.append((query, random_top_up(pool, query.excluded | set(query.chosen),
                                                     negative_number - len(query.chosen))))
    lap("choose")
    if top_ups and reranker is not None:
        top_ups = list(zip([query for query, _ in top_ups],
                           _rerank_and_filter(scorer, top_ups, filters, summary["filled"]["removed"]["reranker"])))
    for query, added in top_ups:
        query.chosen.extend(added)
        summary["filled"]["added"] += len(added)
    if underfilled == "pad":
        _pad(queries, scorer, index, end, negative_number, filters, summary)
    lap("fill")

    mined, counts = [], []
    for query in queries:
        if underfilled == "drop" and len(query.chosen) < negative_number:
            summary["records_dropped"] += 1
            continue
        record = dict(query.record)
        record["neg"] = query.chosen
        if output_scores:
            if reranker is not None:
                record["pos_scores"] = query.positive_scores
                record["neg_scores"] = [query.scores[text] for text in query.chosen]
            else:
                record["pos_scores"] = query.positive_scores_embedder
                record["neg_scores"] = scorer.embedder_scores(query, query.chosen)
        counts.append(len(query.chosen))
        mined.append(record)
    summary["records_written"] = len(mined)
    summary["records_short"] = sum(count < negative_number for count in counts)
    summary["records_without_negatives"] = [number for number, record in enumerate(mined, start=1) if not record["neg"]]
    summary["removed_total"] = sum(sum(stage.values()) for stage in summary["removed"].values())
    low, median = count_summary(counts)
    summary["negatives_per_query"] = {"min": low, "median": median}
    lap("write")
    seconds["total"] = round(time.perf_counter() - began, 3)
    logger.info(summary_line(summary))
    if summary["records_without_negatives"]:
        numbers = summary["records_without_negatives"]
        logger.warning("%d written records have no negative (records %s of the output): fine-tuning with "
                       "--train_group_size > 1 refuses them; mine again with --underfilled drop (leave them out) or "
                       "pad (take passages below the range that pass the filters).", len(numbers),
                       ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else ""))
    if stats is not None:
        stats.update(summary)
    return mined


def summary_line(stats: Dict[str, Any]) -> str:
    """One line of the counts in ``stats`` (see :func:`mine_hard_negatives`)."""
    removed = "; ".join(f"{stage}: " + ", ".join(f"{name} {count}" for name, count in counts.items())
                        for stage, counts in stats["removed"].items())
    per_query = stats["negatives_per_query"]
    return (f"Mined {stats['queries']} queries in {stats['seconds'].get('total', 0):.1f} s: "
            f"{stats['candidates_seen']} candidates in range, {stats['removed_total']} removed ({removed}); "
            f"{stats['queries_underfilled']} queries underfilled ({stats['underfilled_action']}: "
            f"{stats['filled']['added']} negatives added, {stats['records_dropped']} records dropped); "
            f"negatives per query min {per_query['min']}, median {per_query['median']}; "
            f"{stats['records_written']} records written.")


def check_input_records(path: str, records: Sequence[Any]) -> None:
    """Each record needs a str ``query`` and a list ``pos`` (ValueError naming file and record)."""
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict) or not isinstance(record.get("query"), str) \
                or not isinstance(record.get("pos"), list):
            raise InputError(f"{path}, record {number}: needs a string 'query' and a list 'pos'.")


def read_candidate_pool(path: str) -> List[str]:
    """The ``text`` of every record of ``path`` (each must be a string; errors name file and line)."""
    texts = []
    for location, record in iter_json_records(path):
        text = record.get("text") if isinstance(record, dict) else None
        if not isinstance(text, str):
            raise InputError(f"{location}: 'text' must be a string, got {type(text).__name__}.")
        texts.append(text)
    return texts


def check_mining_records(path: str, records: Sequence[Dict[str, Any]], filters: NegativeFilters) -> None:
    """With a margin filter every record needs a positive to compare with (``InputError`` naming the record)."""
    if not filters.needs_positive:
        return
    for number, record in enumerate(records, start=1):
        if not record["pos"]:
            raise InputError(f"{path}, record {number}: 'pos' is empty, but --absolute_margin / --relative_margin "
                             f"compare candidates with the least similar positive; give it a positive or drop it.")


def run(data_args: DataArgs, model_args: Any) -> None:
    """Read ``input_file``, mine, write ``output_file`` (JSONL, non-ASCII kept) and the statistics
    (:meth:`DataArgs.stats_path`, JSON); the last log line says what was written where, the median number of
    negatives per query and how long it took."""
    job = JobSummary(logger)
    filters = data_args.filters()
    stats_path = data_args.stats_path()
    if os.path.abspath(stats_path) in (os.path.abspath(data_args.output_file), os.path.abspath(data_args.input_file)):
        raise InputError(f"--stats_file {stats_path} would overwrite the input or output file; choose another path "
                         f"(default: <output_file>.stats.json).")
    records = read_records(data_args.input_file)
    check_input_records(data_args.input_file, records)
    check_mining_records(data_args.input_file, records, filters)
    corpus = None
    if data_args.candidate_pool is not None:
        corpus = read_candidate_pool(data_args.candidate_pool)
    embedder = load_embedder(model_args)
    reranker = None
    if model_args.reranker_name_or_path is not None and not (filters.active or data_args.output_scores):
        logger.warning("--reranker_name_or_path without --max_score, --absolute_margin, --relative_margin or "
                       "--output_scores changes nothing; the reranker is not loaded.")
    elif model_args.reranker_name_or_path is not None and distributed.world()[0] == 0:
        reranker = load_reranker(model_args)  # only rank 0 rescores (the others only encode candidates)
    stats: Dict[str, Any] = {}
    mined = mine_hard_negatives(embedder, records, corpus, data_args.range_for_sampling,
                                data_args.negative_number, data_args.use_gpu_for_searching,
                                data_args.corpus_embd_save_dir, data_args.corpus_embd_shard_size,
                                filters=filters, sampling_strategy=data_args.sampling_strategy,
                                underfilled=data_args.underfilled, reranker=reranker,
                                output_scores=data_args.output_scores, stats=stats)
    if mined is None:  # a torchrun rank other than 0: its share of the candidates is in the cache
        return
    atomic_write_jsonl(data_args.output_file, mined, ensure_ascii=False)
    atomic_write_json(stats_path, stats)
    median = stats["negatives_per_query"]["median"]
    job.log(f"wrote {data_args.output_file} ({len(mined)} records) and {stats_path}",
            f"median {median:g} negatives per query" if median is not None else "")


#: the closing ``Examples:`` of ``--help`` (tests/utils/test_cli_examples.py parses every flag)
EXAMPLES = (
    "python scripts/hn_mine.py --embedder_name_or_path BAAI/bge-base-en-v1.5 --input_file train.jsonl "
    "--output_file train_minedHN.jsonl --range_for_sampling 2-200 --negative_number 15",
    "python scripts/hn_mine.py --embedder_name_or_path BAAI/bge-base-en-v1.5 --input_file train.jsonl "
    "--output_file train_minedHN.jsonl --candidate_pool corpus.jsonl --absolute_margin 0.05 "
    "--reranker_name_or_path BAAI/bge-reranker-v2-m3 --normalize True",
    "torchrun --nproc_per_node 2 scripts/hn_mine.py --embedder_name_or_path BAAI/bge-base-en-v1.5 "
    "--input_file train.jsonl --output_file train_minedHN.jsonl --corpus_embd_save_dir ./hn_mine_embd",
)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point (``scripts/hn_mine.py``)."""
    configure_logging()
    parser = ArgumentParser((DataArgs, ModelArgs), description=__doc__, examples=EXAMPLES)
    data_args, model_args = parser.parse_args_into_dataclasses(argv)
    warn_unused(data_args, model_args)
    distributed.init_distributed()
    try:
        run(data_args, model_args)
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    run_cli(main)
