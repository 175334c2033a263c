"""Corpus indexes and search: dense (exact or faiss), M3 sparse, M3 ColBERT reranking, BM25 and hybrid fusion.

>>> from FlagEmbedding import BGEM3FlagModel
>>> from FlagEmbedding.retrieval import RetrievalIndex, SearchOptions
>>> index = RetrievalIndex.build("my_index", docids, texts, embedder=BGEM3FlagModel("BAAI/bge-m3"),
...                              representations=["dense", "sparse", "colbert", "bm25"])
>>> ids, scores = index.search(["what is BGE M3?"], top_k=10, options=SearchOptions(method="all"))
"""
from FlagEmbedding.retrieval.bm25 import BM25Index, BM25Params
from FlagEmbedding.retrieval.colbert import ColbertStore
from FlagEmbedding.retrieval.dense import DenseIndex, dense_array
from FlagEmbedding.retrieval.fusion import rrf_fusion, weighted_fusion
from FlagEmbedding.retrieval.index import METHODS, REPRESENTATIONS, RetrievalIndex, SearchOptions
from FlagEmbedding.retrieval.sparse import SparseIndex

__all__ = ["BM25Index", "BM25Params", "ColbertStore", "DenseIndex", "METHODS", "REPRESENTATIONS", "RetrievalIndex",
           "SearchOptions", "SparseIndex", "dense_array", "rrf_fusion", "weighted_fusion"]
