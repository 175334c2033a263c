"""BM25 over raw passage texts with the ``bm25s`` library (saved and loaded atomically, memory-mapped).

A query with no indexed term (empty, whitespace, stopwords only, unseen words) scores 0 against every passage:
it finds nothing on its own and adds nothing to a fusion.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from FlagEmbedding.utils.errors import IntegrityError
from FlagEmbedding.utils.files import folder_checksums, folder_lock, replace_folder
from FlagEmbedding.utils.progress import stage_bar

if TYPE_CHECKING:  # bm25s is an optional dependency, imported where it is used
    import bm25s

#: the progress bar of :meth:`BM25Index.build` (documents tokenized; the index is computed when it is full)
BM25_STAGE = "Indexing BM25"
#: passages tokenized per step of that bar
TOKENIZE_CHUNK = 10_000


@dataclass(frozen=True)
class BM25Params:
    """``bm25s`` settings (its defaults; English stopwords, no stemming)."""

    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    stopwords: str = "english"

    def fingerprint(self, corpus_fingerprint: str) -> str:
        """SHA-256 of these settings and the corpus fingerprint."""
        identity = {"bm25": asdict(self), "corpus": corpus_fingerprint}
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode("utf-8")).hexdigest()


class BM25Index:
    """A ``bm25s.BM25`` retriever plus the tokenizer settings it was built with."""

    def __init__(self, retriever: bm25s.BM25, params: BM25Params, checksums: Optional[Dict[str, str]] = None):
        self.retriever = retriever
        self.params = params
        #: checksum of each file of the folder it was saved to or loaded from (``None``: in memory only)
        self.checksums = checksums

    @classmethod
    def build(cls, texts: Sequence[str], params: BM25Params = BM25Params()) -> "BM25Index":
        """Tokenize and index ``texts`` (corpus order), with one progress bar (:data:`BM25_STAGE`)."""
        import bm25s

        retriever = bm25s.BM25(k1=params.k1, b=params.b, method=params.method)
        tokens: List[List[str]] = []
        with stage_bar(len(texts), BM25_STAGE, unit="doc") as bar:
            for start in range(0, len(texts), TOKENIZE_CHUNK):
                chunk = list(texts[start:start + TOKENIZE_CHUNK])
                tokens.extend(bm25s.tokenize(chunk, stopwords=params.stopwords, return_ids=False,
                                             show_progress=False))
                bar.update(len(chunk))
            retriever.index(tokens, show_progress=False)
        return cls(retriever, params)

    def save(self, folder: str) -> Dict[str, str]:
        """Write the index into ``folder`` (a uniquely named temporary folder swapped into place, see
        :func:`~FlagEmbedding.utils.files.replace_folder`); returns the checksum of each file written."""
        written: Dict[str, str] = {}

        def write(tmp: str) -> None:
            self.retriever.save(tmp, show_progress=False)
            written.update(folder_checksums(tmp))

        replace_folder(folder, write)
        self.checksums = written
        return written

    @classmethod
    def load(cls, folder: str, params: BM25Params,
             trusted: Optional[Callable[[str, str], bool]] = None) -> "BM25Index":
        """Load a saved index (arrays memory-mapped, no pickle) under the folder's lock.

        ``trusted(file name, checksum)`` is asked for every file first; the first file it refuses raises
        :class:`~FlagEmbedding.utils.errors.IntegrityError` naming it (nothing is loaded).
        """
        import bm25s

        with folder_lock(folder):
            checksums = folder_checksums(folder)
            for name, checksum in checksums.items():
                if trusted is not None and not trusted(name, checksum):
                    raise IntegrityError(os.path.join(folder, name))
            retriever = bm25s.BM25.load(folder, mmap=True, allow_pickle=False, show_progress=False)
            return cls(retriever, params, checksums)

    @property
    def ntotal(self) -> int:
        """Number of indexed passages."""
        return int(self.retriever.scores["num_docs"])

    def tokenize(self, queries: Sequence[str]) -> List[List[str]]:
        """Query tokens with the index's settings (strings, so unseen words are ignored)."""
        import bm25s

        return bm25s.tokenize(list(queries), stopwords=self.params.stopwords, return_ids=False, show_progress=False)

    def search(self, query_tokens: List[List[str]], k: int) -> Tuple[List[np.ndarray], List[np.ndarray]]:
        """Per tokenized query (see :meth:`tokenize`), ``(scores, rows)`` of its ``k`` best passages with a
        positive score, best first."""
        if not query_tokens:
            return [], []
        k = min(k, self.ntotal)
        rows, scores = self.retriever.retrieve(query_tokens, k=k, show_progress=False, n_threads=1)
        out_scores, out_rows = [], []
        for row_scores, row_ids in zip(scores, rows):
            keep = row_scores > 0
            out_scores.append(np.asarray(row_scores[keep], dtype=np.float32))
            out_rows.append(np.asarray(row_ids[keep], dtype=np.int64))
        return out_scores, out_rows

    def score(self, query_tokens: List[str], rows: Sequence[int]) -> np.ndarray:
        """BM25 scores of one tokenized query for passages ``rows`` (zeros when no query token is indexed)."""
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        if not self.retriever.get_tokens_ids(list(query_tokens)):
            return np.zeros(len(rows), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(query_tokens), dtype=np.float32)[np.asarray(rows)]
