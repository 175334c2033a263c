"""Hard-negative mining: replace each record's ``neg`` with passages an embedder ranks high but are not positives.

``python scripts/hn_mine.py --input_file in.jsonl --output_file out.jsonl --embedder_name_or_path MODEL
--range_for_sampling 2-200 --negative_number 15`` (see docs/guides/finetune_data.rst).
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from FlagEmbedding.retrieval import distributed
from FlagEmbedding.retrieval.embedding_cache import CorpusEmbeddingCache, embedder_fingerprint
from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs
from FlagEmbedding.abc.evaluation.models import load_embedder
from FlagEmbedding.abc.finetune.common.arguments import unused_field, warn_unused
from FlagEmbedding.abc.finetune.common.data import iter_json_records
from FlagEmbedding.finetune.data_scripts.common import read_records
from FlagEmbedding.inference.options import side_model_args
from FlagEmbedding.retrieval.dense import DenseIndex, dense_array
from FlagEmbedding.utils.cli import ArgumentParser, configure_logging, run_cli
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.files import atomic_write_jsonl

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


#: The embedder used for mining (loaded with ``FlagAutoModel.from_finetuned``): the evaluation's embedder arguments
#: (:func:`~FlagEmbedding.inference.options.side_model_args`), with 1.4.2's ``--batch_size`` and ``--pooling_method cls``;
#: ``--use_bf16`` (which 1.4.2 did not have here) defaults to the class's own setting.
ModelArgs = side_model_args(
    "ModelArgs", "embedder", AbsEvalModelArgs, rename={"embedder_batch_size": "batch_size"},
    defaults={"pooling_method": "cls", "use_bf16": None}, module=__name__,
    doc="The embedder used for mining (loaded with ``FlagAutoModel.from_finetuned``); the embedder fields of "
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
    """Negatives of one query from its ranked candidates (already cut to the sampling range).

    Drops -1 ids, positives and the query itself; samples ``negative_number`` of the rest, or tops up with random
    corpus texts that are neither positives, the query nor already chosen (fewer if the corpus runs out).
    """
    excluded = set(positives) | {query}
    candidates = list(dict.fromkeys(corpus[i] for i in ranked_ids if i != -1 and corpus[i] not in excluded))
    if len(candidates) > negative_number:
        return random.sample(candidates, negative_number)
    chosen = set(candidates)
    pool = [text for text in corpus if text not in excluded and text not in chosen]
    return candidates + random.sample(pool, min(negative_number - len(candidates), len(pool)))


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
        return encode(corpus)
    cache = CorpusEmbeddingCache(corpus_embd_save_dir, embedder_fingerprint(embedder),
                                 [str(row) for row in range(len(corpus))], corpus, shard_rows=shard_rows)
    if distributed.is_distributed():
        cache.encode_assigned(encode)
        distributed.barrier()
        if distributed.world()[0] != 0:
            return None
    return dense_array(np.concatenate(cache.load_or_encode(encode), axis=0))


def mine_hard_negatives(
    embedder: Any,
    records: List[Dict[str, Any]],
    corpus: Optional[List[str]],
    range_for_sampling: str = "10-210",
    negative_number: int = 15,
    use_gpu_for_searching: bool = False,
    corpus_embd_save_dir: Optional[str] = None,
    corpus_embd_shard_size: int = 100_000,
) -> Optional[List[Dict[str, Any]]]:
    """Records with ``neg`` replaced by mined negatives (other fields, incl. stale ``neg_scores``, kept).

    ``corpus`` defaults to the de-duplicated union of all ``pos`` and ``neg`` texts. ``use_gpu_for_searching`` is
    accepted for compatibility: the search uses a GPU whenever one is available. The candidate vectors are
    cached in ``corpus_embd_save_dir`` when given (see :func:`encode_candidates`); under torchrun only rank 0
    mines (the other ranks return ``None`` once their share of the candidates is encoded).
    """
    start, end = parse_range(range_for_sampling)
    if corpus is None:
        corpus = [text for record in records for text in list(record["pos"]) + list(record.get("neg") or [])]
    corpus = list(dict.fromkeys(corpus))
    if not corpus:
        raise InputError("The candidate corpus is empty: records have no pos/neg texts and no candidate_pool.")
    logger.info("Encoding %d corpus texts and %d queries.", len(corpus), len(records))
    corpus_vectors = encode_candidates(embedder, corpus, corpus_embd_save_dir, corpus_embd_shard_size)
    if corpus_vectors is None:
        return None
    query_vectors = dense_array(embedder.encode_queries([record["query"] for record in records]))
    ranked = search(corpus_vectors, query_vectors, min(end, len(corpus)))
    mined = []
    for record, ids in zip(records, ranked):
        record = dict(record)
        record["neg"] = choose_negatives(record["query"], record["pos"], list(ids[start:end]), corpus,
                                         negative_number)
        mined.append(record)
    return mined


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


def run(data_args: DataArgs, model_args: Any) -> None:
    """Read ``input_file``, mine, write ``output_file`` (JSONL, non-ASCII kept)."""
    records = read_records(data_args.input_file)
    check_input_records(data_args.input_file, records)
    corpus = None
    if data_args.candidate_pool is not None:
        corpus = read_candidate_pool(data_args.candidate_pool)
    embedder = load_embedder(model_args)
    mined = mine_hard_negatives(embedder, records, corpus, data_args.range_for_sampling,
                                data_args.negative_number, data_args.use_gpu_for_searching,
                                data_args.corpus_embd_save_dir, data_args.corpus_embd_shard_size)
    if mined is None:  # a torchrun rank other than 0: its share of the candidates is in the cache
        return
    atomic_write_jsonl(data_args.output_file, mined, ensure_ascii=False)
    logger.info("Wrote %d records to %s.", len(mined), data_args.output_file)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command-line entry point (``scripts/hn_mine.py``)."""
    configure_logging()
    parser = ArgumentParser((DataArgs, ModelArgs), description=__doc__)
    data_args, model_args = parser.parse_args_into_dataclasses(argv)
    warn_unused(data_args, model_args)
    distributed.init_distributed()
    try:
        run(data_args, model_args)
    finally:
        distributed.shutdown()


if __name__ == "__main__":
    run_cli(main)
