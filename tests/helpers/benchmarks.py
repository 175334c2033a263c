"""Tiny benchmark datasets in every layout the evaluation reads, and argument builders."""
from __future__ import annotations

import os
from typing import Any, Iterable, List, Mapping, Optional

from tests.helpers.files import write_jsonl

#: a model path that is never loaded: the runs that use it must fail before loading a model
NO_MODEL = "/nonexistent/model/never-loaded"

CORPUS = {
    "d1": {"title": "Fox", "text": "The quick brown fox jumps over the lazy dog."},
    "d2": {"title": "France", "text": "What is the capital of France? Paris is the capital of France."},
    "d3": {"title": "", "text": "Deep learning models embed text into dense vectors for retrieval."},
    "d4": {"title": "M3", "text": "BGE M3 supports dense, sparse and multi-vector retrieval."},
    "d5": {"title": "", "text": "Yes or No: does the passage answer the query?"},
    "d6": {"title": "Panda", "text": "The giant panda is a bear species endemic to China."},
    "d7": {"title": "", "text": "Hi! Hello there, how are you doing today?"},
    "d8": {"title": "Numbers", "text": "numbers 0 1 2 3 4 5 6 7 8 9 and symbols"},
}
QUERIES = {"q1": "what is the capital of france?", "q2": "what is a panda?", "q3": "dense vectors for retrieval"}
QRELS = {"q1": {"d2": 1}, "q2": {"d6": 1, "d7": 0}, "q3": {"d3": 2, "d4": 1}}


def write_library_layout(folder: str, corpus: Mapping = CORPUS, splits: Iterable[str] = ("test",),
                         queries: Mapping = QUERIES, qrels: Mapping = QRELS, with_corpus: bool = True) -> str:
    """``corpus.jsonl`` + ``<split>_queries.jsonl`` + ``<split>_qrels.jsonl`` (same queries for every split)."""
    if with_corpus:
        write_jsonl(os.path.join(folder, "corpus.jsonl"), ({"id": k, **v} for k, v in corpus.items()))
    for split in splits:
        write_jsonl(os.path.join(folder, f"{split}_queries.jsonl"), ({"id": k, "text": v} for k, v in queries.items()))
        write_jsonl(os.path.join(folder, f"{split}_qrels.jsonl"),
                    ({"qid": q, "docid": d, "relevance": r} for q, docs in qrels.items() for d, r in docs.items()))
    return folder


def write_beir_layout(folder: str, corpus: Mapping = CORPUS, queries: Mapping = QUERIES, qrels: Mapping = QRELS,
                      split: str = "test", extra_queries: Optional[Mapping] = None) -> str:
    """BEIR's ``corpus.jsonl`` (``_id``) + ``queries.jsonl`` (all splits) + ``qrels/<split>.tsv``."""
    write_jsonl(os.path.join(folder, "corpus.jsonl"), ({"_id": k, **v} for k, v in corpus.items()))
    all_queries = {**queries, **(extra_queries or {})}
    write_jsonl(os.path.join(folder, "queries.jsonl"), ({"_id": k, "text": v} for k, v in all_queries.items()))
    os.makedirs(os.path.join(folder, "qrels"), exist_ok=True)
    with open(os.path.join(folder, "qrels", f"{split}.tsv"), "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for q, docs in qrels.items():
            for d, r in docs.items():
                f.write(f"{q}\t{d}\t{r}\n")
    return folder


def write_mkqa_layout(root: str, languages: Iterable[str]) -> str:
    """Shared ``corpus.jsonl`` plus ``<lang>/test_queries.jsonl`` and answer qrels."""
    write_jsonl(os.path.join(root, "corpus.jsonl"), ({"id": k, **v} for k, v in CORPUS.items()))
    answers = {"q1": ["Paris"], "q2": ["bear species"], "q3": ["dense vectors"]}
    for lang in languages:
        write_jsonl(os.path.join(root, lang, "test_queries.jsonl"), ({"id": k, "text": v} for k, v in QUERIES.items()))
        write_jsonl(os.path.join(root, lang, "test_qrels.jsonl"), ({"qid": k, "answers": v} for k, v in answers.items()))
    return root


def model_args(embedder: str, **overrides) -> "object":
    """``AbsEvalModelArgs`` for a tiny CPU model."""
    from FlagEmbedding.abc.evaluation.arguments import AbsEvalModelArgs

    values = dict(embedder_name_or_path=embedder, devices=["cpu"], embedder_batch_size=4,
                  embedder_query_max_length=64, embedder_passage_max_length=64)
    values.update(overrides)
    return AbsEvalModelArgs(**values)


def run_beir(tmp_path: Any, embedder: str = NO_MODEL, *extra_flags: str, write_data: bool = False,
             **fields: Any) -> Any:
    """``python -m FlagEmbedding.evaluation.beir`` (in process) on ``scifact`` of ``tmp_path/data``, tiny CPU
    settings, caches in ``tmp_path/embd``, results in ``tmp_path/out``, summary ``tmp_path/summary.md``.

    ``write_data`` writes the tiny BEIR layout there when missing; ``fields`` change argument fields
    (``splits=["dev"]`` -> ``--splits dev``) and ``extra_flags`` are raw flags, both after the defaults (last
    wins). With :data:`NO_MODEL` the run must fail before loading a model. Returns the runner.
    """
    from FlagEmbedding.evaluation.beir.__main__ import main

    root = os.path.join(str(tmp_path), "data")
    if write_data and not os.path.isdir(os.path.join(root, "scifact")):
        write_beir_layout(os.path.join(root, "scifact"))
    values: dict = dict(eval_name="beir", dataset_dir=root, dataset_names="scifact", splits="test",
                        corpus_embd_save_dir=os.path.join(str(tmp_path), "embd"),
                        output_dir=os.path.join(str(tmp_path), "out"),
                        eval_output_path=os.path.join(str(tmp_path), "summary.md"), k_values=[1, 3],
                        eval_metrics=["ndcg_at_3", "recall_at_3"], embedder_name_or_path=embedder, devices="cpu",
                        embedder_batch_size=4, embedder_passage_max_length=64, embedder_query_max_length=64)
    values.update(fields)
    return main(flags(values) + list(extra_flags))


def run_custom(folder: str, tmp_path: Any, **overrides: Any) -> None:
    """A custom-data run of ``folder`` with :data:`NO_MODEL` (``overrides`` change the arguments)."""
    from FlagEmbedding.abc.evaluation.arguments import AbsEvalArgs
    from FlagEmbedding.evaluation.custom import CustomEvalRunner

    values = dict(eval_name="mine", dataset_dir=folder, output_dir=str(tmp_path / "out"),
                  eval_output_path=str(tmp_path / "s.md"))
    values.update(overrides)
    CustomEvalRunner(AbsEvalArgs(**values), model_args(NO_MODEL)).run()


def flags(mapping: Mapping[str, object]) -> List[str]:
    """``{"a": 1, "b": [2, 3]}`` -> ``["--a", "1", "--b", "2", "3"]``."""
    out: List[str] = []
    for key, value in mapping.items():
        values = value if isinstance(value, (list, tuple)) else [value]
        out += [f"--{key}", *(str(v) for v in values)]
    return out


def scifact_argv(dataset_dir: str, minilm: str, embd_dir: str, out_dir: str, summary: str) -> list:
    """The documented BEIR command with paths and model changed (as the task specifies)."""
    return [
        "--eval_name", "beir", "--dataset_dir", dataset_dir, "--dataset_names", "scifact", "--splits", "test",
        "--corpus_embd_save_dir", embd_dir, "--output_dir", out_dir, "--search_top_k", "1000",
        "--rerank_top_k", "100", "--overwrite", "False", "--k_values", "10", "100",
        "--eval_output_method", "markdown", "--eval_output_path", summary,
        "--eval_metrics", "ndcg_at_10", "recall_at_100", "--ignore_identical_ids", "True",
        "--embedder_name_or_path", minilm, "--embedder_model_class", "encoder-only-base", "--pooling_method", "mean",
        "--devices", "cpu", "--embedder_batch_size", "64",
        "--embedder_passage_max_length", "256", "--embedder_query_max_length", "256",
    ]
