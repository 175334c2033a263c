"""MS MARCO passage / document ranking: ``dev`` (MS MARCO) and ``dl19`` / ``dl20`` (TREC Deep Learning)."""
from __future__ import annotations

from typing import List, Optional

from FlagEmbedding.abc.evaluation.data_loader import AbsEvalDataLoader
from FlagEmbedding.retrieval.readers import Corpus, Qrels, Queries, read_qrels_tsv, read_tsv_queries

TREC_QRELS = "https://trec.nist.gov/data/deep/{year}qrels-{kind}.txt"
MSMARCO_FILES = "https://msmarco.z22.web.core.windows.net/msmarcoranking/"
TEST_QUERIES = MSMARCO_FILES + "msmarco-test{year}-queries.tsv.gz"
DOC_DEV_QRELS = MSMARCO_FILES + "msmarco-docdev-qrels.tsv.gz"
DOC_DEV_QUERIES = MSMARCO_FILES + "msmarco-docdev-queries.tsv.gz"
YEARS = {"dl19": 2019, "dl20": 2020}


class MSMARCOEvalDataLoader(AbsEvalDataLoader):
    """``passage`` and ``document`` collections; queries are kept only when they have qrels."""

    SOURCE_NAME = "MS MARCO"

    def available_dataset_names(self) -> List[str]:
        return ["passage", "document"]

    def available_splits(self, dataset_name: Optional[str] = None) -> List[str]:
        return ["dev", "dl19", "dl20"]

    def remote_source(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> str:
        corpus = "Tevatron/msmarco-passage-corpus" if dataset_name == "passage" else "irds/msmarco-document"
        return f"https://huggingface.co/datasets/{corpus}, BeIR/msmarco, {MSMARCO_FILES} and https://trec.nist.gov/data/deep/"

    def _load_remote_corpus(self, dataset_name: Optional[str], sub_dataset_name: Optional[str] = None) -> Corpus:
        if dataset_name == "passage":
            rows = self._load_hf_dataset("Tevatron/msmarco-passage-corpus", split="train")
            return {str(row["docid"]): {"title": row["title"] or "", "text": row["text"]} for row in rows}
        docs = self._load_hf_dataset("irds/msmarco-document", "docs")
        rows = docs[next(iter(docs))] if hasattr(docs, "keys") else docs
        return {str(row["doc_id"]): {"title": row["title"] or "", "text": row["body"]} for row in rows}

    def _load_remote_qrels(self, dataset_name: Optional[str], split: str,
                           sub_dataset_name: Optional[str] = None) -> Qrels:
        if split in YEARS:
            kind = "pass" if dataset_name == "passage" else "docs"
            return read_qrels_tsv(self._download_file(TREC_QRELS.format(year=YEARS[split], kind=kind), self.cache_dir))
        if dataset_name == "document":
            return read_qrels_tsv(self._download_gz_file(DOC_DEV_QRELS, self.cache_dir))
        qrels: Qrels = {}
        for row in self._load_hf_dataset("BeIR/msmarco-qrels", split="validation"):
            qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
        return qrels

    def _load_remote_queries(self, dataset_name: Optional[str], split: str,
                             sub_dataset_name: Optional[str] = None) -> Queries:
        keep = set(self.load_qrels(dataset_name, split=split))
        if split in YEARS:
            queries = read_tsv_queries(self._download_gz_file(TEST_QUERIES.format(year=YEARS[split]), self.cache_dir))
        elif dataset_name == "document":
            queries = read_tsv_queries(self._download_gz_file(DOC_DEV_QUERIES, self.cache_dir))
        else:
            rows = self._load_hf_dataset("BeIR/msmarco", "queries", split="queries")
            queries = {str(row["_id"]): row["text"] for row in rows}
        return {qid: text for qid, text in queries.items() if qid in keep}
