"""mteb 2.x retrieval tasks built locally (no network)."""
from __future__ import annotations

from typing import Any, Mapping


def local_retrieval_task(name: str, corpus: Mapping[str, Mapping[str, str]], queries: Mapping[str, str],
                         qrels: Mapping[str, Mapping[str, int]]) -> Any:
    """An ``AbsTaskRetrieval`` named ``name`` whose test split is the given data."""
    from datasets import Dataset
    from mteb.abstasks.retrieval import AbsTaskRetrieval
    from mteb.abstasks.retrieval_dataset_loaders import RetrievalSplitData
    from mteb.abstasks.task_metadata import TaskMetadata

    metadata = TaskMetadata(
        name=name, type="Retrieval", main_score="ndcg_at_10", description="Local test task.",
        reference=None, dataset={"path": f"local/{name}", "revision": "local"}, category="t2t",
        eval_splits=["test"], eval_langs=["eng-Latn"], date=None, dialect=[], domains=[], task_subtypes=[],
        license="cc-by-4.0", annotations_creators="derived", modalities=["text"], sample_creation="found",
        bibtex_citation="",
    )

    def load_data(self, num_proc=None, **kwargs):
        split = RetrievalSplitData(
            corpus=Dataset.from_list([{"id": d, "title": doc.get("title", ""), "text": doc["text"]}
                                      for d, doc in corpus.items()]),
            queries=Dataset.from_list([{"id": q, "text": text} for q, text in queries.items()]),
            relevant_docs={q: dict(docs) for q, docs in qrels.items()},
            top_ranked=None,
        )
        self.dataset = {"default": {"test": split}}
        self.data_loaded = True

    task_class = type(f"Local{name}", (AbsTaskRetrieval,), {"metadata": metadata, "load_data": load_data})
    return task_class()
