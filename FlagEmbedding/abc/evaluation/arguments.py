"""Command-line arguments shared by every benchmark (parsed with ``transformers.HfArgumentParser``)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, List, Optional

from FlagEmbedding.backends.onnx_backend import BACKENDS, QUANTIZATIONS
from FlagEmbedding.utils.validation import unescape_newlines
from FlagEmbedding.retrieval.compare import pytrec_measure
from FlagEmbedding.retrieval.fusion import FUSIONS
from FlagEmbedding.retrieval.index import DEFAULT_M3_WEIGHTS, FIRST_STAGE, METHODS, SearchOptions
from FlagEmbedding.retrieval.stores import BACKENDS as INDEX_BACKENDS, check_store_flags
from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.lazy import LazyChoices
from FlagEmbedding.utils.plot import plot_format
from FlagEmbedding.utils.quantization import PRECISIONS, TOKEN_PRECISIONS


def _model_classes(kind: str) -> List[str]:
    """The ``model_class`` values of the embedder or reranker registry (read when a parser first needs them)."""
    from FlagEmbedding.inference.embedder.model_mapping import EmbedderModelClass
    from FlagEmbedding.inference.registry import model_class_choices
    from FlagEmbedding.inference.reranker.model_mapping import RerankerModelClass

    return model_class_choices(EmbedderModelClass if kind == "embedder" else RerankerModelClass)


EMBEDDER_MODEL_CLASSES = LazyChoices(lambda: _model_classes("embedder"))
RERANKER_MODEL_CLASSES = LazyChoices(lambda: _model_classes("reranker"))
#: ``--*_quantize`` values (``none`` is ``quantize=None``)
QUANTIZE_CHOICES = [value or "none" for value in QUANTIZATIONS]


@dataclass
class AbsEvalArgs:
    """Where the data comes from, what is evaluated and where results go."""

    eval_name: Optional[str] = field(
        default=None, metadata={"help": "Name of the evaluation (e.g. beir): the download-cache sub-folder, stored in every result file."}
    )
    dataset_dir: Optional[str] = field(
        default=None, metadata={"help": "Local data root; remote data is downloaded and saved there. None: remote, not saved."}
    )
    force_redownload: bool = field(default=False, metadata={"help": "Ignore local files and download again (once per run)."})
    dataset_names: Optional[str] = field(
        default=None, metadata={"help": "Datasets to evaluate (None: all available).", "nargs": "+"}
    )
    splits: str = field(default="test", metadata={"help": "Splits to evaluate.", "nargs": "+"})
    corpus_embd_save_dir: Optional[str] = field(
        default=None, metadata={"help": "Root of the corpus-embedding cache (None: no cache)."}
    )
    corpus_embd_shard_size: int = field(
        default=100_000, metadata={"help": "Corpus rows per embedding-cache shard (the unit a killed run resumes from)."}
    )
    output_dir: str = field(default="./search_results", metadata={"help": "Root folder of the search results."})
    search_top_k: int = field(default=1000, metadata={"help": "Retrieval depth."})
    rerank_top_k: int = field(default=100, metadata={"help": "Reranking depth (deeper hits are kept after the reranked ones)."})
    cache_path: Optional[str] = field(default=None, metadata={"help": "Download cache root (default $HF_HUB_CACHE)."})
    token: Optional[str] = field(
        default_factory=lambda: os.getenv("HF_TOKEN"), metadata={"help": "Hugging Face token for gated datasets."}
    )
    overwrite: bool = field(default=False, metadata={"help": "Recompute embeddings, results and metrics."})
    ignore_identical_ids: bool = field(default=False, metadata={"help": "Never return a document whose id equals the query id."})
    k_values: List[int] = field(
        default_factory=lambda: [1, 3, 5, 10, 100, 1000], metadata={"help": "Metric cut-offs."}
    )
    eval_output_method: str = field(
        default="markdown", metadata={"help": "Summary format.", "choices": ["json", "markdown"]}
    )
    eval_output_path: str = field(default="./eval_results.md", metadata={"help": "Summary file."})
    eval_metrics: List[str] = field(
        default_factory=lambda: ["ndcg_at_10", "recall_at_10"], metadata={"help": "Metrics shown in the markdown summary."}
    )
    plot: Optional[str] = field(default=None, metadata={
        "help": "Also draw the first --eval_metrics as a bar chart into this .png or .svg file: a bar group per "
                "dataset/split, a bar per model/reranker folder (search methods included; needs matplotlib)."})
    search_method: str = field(
        default="dense", metadata={"help": "First-stage search: dense (exact), sparse / colbert (M3 models), bm25, "
                                           "hybrid (fusion of --hybrid_methods) or all (hybrid candidates reranked by "
                                           "--m3_weights . (dense, sparse, colbert)); colbert and all rerank the "
                                           "--rerank_top_k best candidates.", "choices": list(METHODS)}
    )
    hybrid_methods: Optional[List[str]] = field(
        default=None, metadata={"help": "Methods fused by hybrid / all (default: dense sparse for an M3 model, "
                                        "dense bm25 otherwise).", "nargs": "+", "choices": list(FIRST_STAGE)}
    )
    fusion: str = field(
        default="weighted", metadata={"help": "weighted: sum of weight x raw score over the union of candidates; "
                                              "rrf: reciprocal-rank fusion.", "choices": list(FUSIONS)}
    )
    fusion_weights: Optional[List[float]] = field(
        default=None, metadata={"help": "Weights of --hybrid_methods for weighted fusion (default: dense 1, sparse "
                                        "0.3, bm25 0.03).", "nargs": "+"}
    )
    rrf_k: int = field(default=60, metadata={"help": "The k of reciprocal-rank fusion (1 / (k + rank))."})
    m3_weights: List[float] = field(
        default_factory=lambda: list(DEFAULT_M3_WEIGHTS),
        metadata={"help": "Weights of the dense, sparse and ColBERT scores of --search_method all.", "nargs": 3}
    )
    faiss_index_factory: Optional[str] = field(
        default=None, metadata={"help": "faiss index factory string for dense search, e.g. IVF256,Flat or HNSW32 "
                                        "(default: exact search); the built index is saved in the corpus cache."}
    )
    embedding_precision: str = field(default="float32", metadata={
        "help": "Dense corpus vectors searched as float32, or int8 / uint8 (exact over the codes) or binary / ubinary "
                "(Hamming search, then --rescore_multiplier x k candidates rescored on int8 codes).",
        "choices": list(PRECISIONS)})
    rescore_multiplier: int = field(default=4, metadata={"help": "Binary search: candidates rescored per hit."})
    colbert_precision: str = field(default="float16", metadata={
        "help": "ColBERT store: float16 (padded rows) or unpadded int8 / int4 per-token codes.",
        "choices": list(TOKEN_PRECISIONS)})
    index_backend: str = field(default="memory", metadata={
        "help": "Where the index lives: memory (in process), qdrant or milvus (see docs/guides/vector_databases).",
        "choices": list(INDEX_BACKENDS)})
    index_url: Optional[str] = field(default=None, metadata={
        "help": "Qdrant URL / Milvus URI (default: embedded, under <output_dir>/vector_db)."})
    index_collection: Optional[str] = field(default=None, metadata={
        "help": "Collection name (default: flagembedding_<index key>, one per model, settings and corpus)."})
    compare_to: Optional[str] = field(
        default=None, metadata={"help": "A results folder (<output_dir>/<model>/<reranker>) of another run: the "
                                        "summary gets, per metric, the difference to it and a paired t-test p-value."}
    )

    def __post_init__(self) -> None:
        if not self.eval_name:
            raise InputError("--eval_name is required: it names the download-cache sub-folder and is stored in every result file.")
        if self.corpus_embd_shard_size <= 0:
            raise InputError(f"--corpus_embd_shard_size must be a positive integer, got {self.corpus_embd_shard_size}.")
        for name in ("search_top_k", "rerank_top_k"):
            if getattr(self, name) <= 0:
                raise InputError(f"--{name} must be a positive integer, got {getattr(self, name)}.")
        if not self.k_values or any(k <= 0 for k in self.k_values):
            raise InputError(f"--k_values must be positive integers, got {self.k_values}.")
        try:
            options = self.search_options()
        except ValueError as error:
            raise InputError(f"--{error}") from None
        self._check_flags_apply(options)
        check_store_flags(self.index_backend, self.index_url, self.index_collection, self.faiss_index_factory,
                          self.embedding_precision, self.colbert_precision)
        if self.plot:
            plot_format(self.plot)
        if self.compare_to:
            for metric in self.eval_metrics:
                pytrec_measure(metric)

    def _check_flags_apply(self, options: SearchOptions) -> None:
        """Refuse a search flag that the chosen method would ignore (the run would not be what was asked)."""
        fused = options.method in ("hybrid", "all")
        if self.hybrid_methods is not None and not fused:
            raise InputError(f"--hybrid_methods applies to --search_method hybrid or all, not {options.method}.")
        if self.fusion_weights is not None and not (fused and options.fusion == "weighted"):
            raise InputError("--fusion_weights applies to --search_method hybrid or all with --fusion weighted, not "
                             f"--search_method {options.method} --fusion {options.fusion}.")
        if self.rrf_k != 60 and not (fused and options.fusion == "rrf"):
            raise InputError("--rrf_k applies to --search_method hybrid or all with --fusion rrf, not "
                             f"--search_method {options.method} --fusion {options.fusion}.")
        if [float(w) for w in self.m3_weights] != list(DEFAULT_M3_WEIGHTS) and options.method != "all":
            raise InputError(f"--m3_weights applies to --search_method all, not {options.method}.")
        factory = self.faiss_index_factory
        needs = options.representations(True)
        for flag, default, used in (("embedding_precision", "float32", "dense" in needs and factory in (None, "", "Flat")),
                                    ("colbert_precision", "float16", "colbert" in needs),
                                    ("rescore_multiplier", 4, self.embedding_precision in ("binary", "ubinary"))):
            if getattr(self, flag) != default and not used:
                raise InputError(f"--{flag} does not apply to this run (--search_method {options.method}, "
                                 f"--embedding_precision {self.embedding_precision}, --faiss_index_factory {factory}).")
        if factory not in (None, "", "Flat"):
            if os.sep in factory or (os.altsep and os.altsep in factory):
                raise InputError(f"--faiss_index_factory {factory!r} must not contain a path separator (it names "
                                 "the results folder).")
            dense_first = options.method in ("dense", "colbert") or (
                fused and "dense" in options.resolved_hybrid_methods(False))
            if not dense_first:
                raise InputError(f"--faiss_index_factory applies to a dense first-stage search; --search_method "
                                 f"{options.method} does not use one.")

    def search_options(self) -> SearchOptions:
        """The search settings of these arguments (``ValueError`` naming the bad one)."""
        return SearchOptions(method=self.search_method, hybrid_methods=self.hybrid_methods, fusion=self.fusion,
                             fusion_weights=self.fusion_weights, rrf_k=self.rrf_k, m3_weights=list(self.m3_weights),
                             rerank_top_k=self.rerank_top_k, embedding_precision=self.embedding_precision,
                             rescore_multiplier=self.rescore_multiplier, colbert_precision=self.colbert_precision)


def _backend_field(model: str) -> Any:
    """``--{model}_backend``: the runtime of the embedder or reranker."""
    return field(default="torch", metadata={
        "help": f"{model.capitalize()} runtime: torch, onnx (ONNX Runtime) or openvino (OpenVINO, f32), both on "
                f"the CPU for encoder-only {model}s, exported once to --onnx_cache_dir.", "choices": list(BACKENDS)})


def _quantize_field(model: str) -> Any:
    """``--{model}_quantize``: the weights of the embedder or reranker."""
    return field(default="none", metadata={
        "help": f"{model.capitalize()} weights: none, or int8 (dynamic int8; needs --{model}_backend onnx).",
        "choices": QUANTIZE_CHOICES})


@dataclass
class AbsEvalModelArgs:
    """Embedder and (optional) reranker settings; see ``FlagAutoModel`` / ``FlagAutoReranker``."""

    embedder_name_or_path: str = field(metadata={"help": "Embedder: hub id or local folder (required)."})
    embedder_model_class: Optional[str] = field(
        default=None, metadata={"help": "Embedder class (None: detect from the name).", "choices": EMBEDDER_MODEL_CLASSES}
    )
    normalize_embeddings: bool = field(default=True, metadata={"help": "L2-normalize embeddings."})
    pooling_method: Optional[str] = field(default=None, metadata={"help": "Pooling: cls, mean or last_token."})
    use_fp16: bool = field(default=True, metadata={"help": "Half precision on accelerators."})
    use_bf16: bool = field(default=False, metadata={"help": "bfloat16 everywhere."})
    query_instruction_for_retrieval: Optional[str] = field(default=None, metadata={"help": "Query instruction."})
    query_instruction_format_for_retrieval: str = field(default="{}{}", metadata={"help": "Instruction, query format."})
    examples_for_task: Optional[str] = field(default=None, metadata={"help": "In-context examples (ICL models)."})
    examples_instruction_format: str = field(default="{}{}", metadata={"help": "Format of the examples."})
    domain_for_pseudo_moe: Optional[str] = field(default=None, metadata={"help": "Domain of a pseudo-MoE embedder."})
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow remote model code."})
    reranker_name_or_path: Optional[str] = field(default=None, metadata={"help": "Reranker: hub id or local folder."})
    reranker_model_class: Optional[str] = field(
        default=None, metadata={"help": "Reranker class (None: detect from the name).", "choices": RERANKER_MODEL_CLASSES}
    )
    reranker_peft_path: Optional[str] = field(default=None, metadata={"help": "PEFT adapter of the reranker."})
    query_instruction_for_rerank: Optional[str] = field(default=None, metadata={"help": "Reranker query instruction."})
    query_instruction_format_for_rerank: str = field(default="{}{}", metadata={"help": "Instruction, query format."})
    passage_instruction_for_rerank: Optional[str] = field(default=None, metadata={"help": "Reranker passage instruction."})
    passage_instruction_format_for_rerank: str = field(default="{}{}", metadata={"help": "Instruction, passage format."})
    cache_dir: Optional[str] = field(default=None, metadata={"help": "Model download cache."})
    embedder_batch_size: int = field(default=3000, metadata={"help": "Embedder batch size."})
    reranker_batch_size: int = field(default=3000, metadata={"help": "Reranker batch size."})
    embedder_query_max_length: int = field(default=512, metadata={"help": "Query token limit."})
    embedder_passage_max_length: int = field(default=512, metadata={"help": "Passage token limit."})
    truncate_dim: Optional[int] = field(default=None, metadata={"help": "Keep the first N embedding features."})
    reranker_query_max_length: Optional[int] = field(default=None, metadata={"help": "Reranker query token limit."})
    reranker_max_length: int = field(default=512, metadata={"help": "Reranker pair token limit."})
    normalize: bool = field(default=False, metadata={"help": "Sigmoid-normalize reranker scores."})
    prompt: Optional[str] = field(default=None, metadata={"help": "Prompt of LLM rerankers."})
    cutoff_layers: Optional[List[int]] = field(default=None, metadata={"help": "Layers of layer-wise rerankers."})
    compress_ratio: int = field(default=1, metadata={"help": "Compression ratio of lightweight rerankers."})
    compress_layers: Optional[List[int]] = field(default=None, metadata={"help": "Compressed layers of lightweight rerankers."})
    devices: Optional[str] = field(default=None, metadata={"help": "Devices, e.g. cuda:0 cuda:1 or cpu.", "nargs": "+"})
    embedder_backend: str = _backend_field("embedder")
    embedder_quantize: str = _quantize_field("embedder")
    reranker_backend: str = _backend_field("reranker")
    reranker_quantize: str = _quantize_field("reranker")
    onnx_cache_dir: Optional[str] = field(
        default=None, metadata={"help": "Folder of the exported ONNX graphs (default $HF_HOME/flagembedding/onnx)."}
    )
    # Options FlagEmbedding 1.4.2's command lines had no flag for; each default is the class default, so nothing
    # changes unless set (tests/test_option_routes.py checks that every constructor option has a flag).
    colbert_dim: int = field(default=-1, metadata={"help": "ColBERT vector width of an M3 embedder (-1: the model's)."})
    suffix: str = field(default="\n<response>", metadata={"help": "Text appended to every query of an ICL embedder."})
    attn_implementation: Optional[str] = field(
        default=None, metadata={"help": "Attention kernel of an LLM reranker (e.g. eager, sdpa; None: transformers' choice)."}
    )
    long_text_strategy: str = field(default="truncate", metadata={
        "help": "Embedder passages longer than the limit: truncate, chunk_max / chunk_mean (windows pooled), mcls "
                "(BGE-M3 only).", "choices": ["truncate", "chunk_max", "chunk_mean", "mcls"]})
    long_text_stride: int = field(default=0, metadata={"help": "Tokens consecutive embedder windows share."})
    mcls_interval: int = field(default=256, metadata={"help": "BGE-M3 mcls: a CLS token every N tokens."})
    reranker_long_text_strategy: str = field(default="truncate", metadata={
        "help": "Reranker passages too long for the pair: truncate, or maxp (max over windows).",
        "choices": ["truncate", "maxp"]})
    reranker_long_text_stride: int = field(default=0, metadata={"help": "Tokens consecutive reranker windows share."})

    def __post_init__(self) -> None:
        for model in ("embedder", "reranker"):
            quantize, backend = getattr(self, f"{model}_quantize", "none"), getattr(self, f"{model}_backend", "torch")
            if quantize != "none" and backend != "onnx":
                raise InputError(f"--{model}_quantize {quantize} needs --{model}_backend onnx (int8 weights run "
                                 f"in ONNX Runtime).")
        for name in ("embedder_name_or_path", "reranker_name_or_path"):  # '.../1_Pooling/..', 'model/.' -> 'model'
            value = getattr(self, name, None)
            if isinstance(value, str) and os.path.exists(value):
                setattr(self, name, os.path.normpath(value))
        for name in ("query_instruction_format_for_retrieval", "examples_instruction_format",
                     "query_instruction_format_for_rerank", "passage_instruction_format_for_rerank"):
            value = getattr(self, name, None)
            if isinstance(value, str):
                setattr(self, name, unescape_newlines(value))
