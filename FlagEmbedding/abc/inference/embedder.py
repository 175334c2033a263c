"""Abstract embedder: constructor contract, instruction formatting and single/multi-device dispatch."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast, overload

import numpy as np
import torch

from FlagEmbedding.abc.inference.base import AbsInferenceModel
from FlagEmbedding.abc.inference.batching import restore_order
from FlagEmbedding.abc.inference.devices import DevicesArg, load_dtype
from FlagEmbedding.utils.quantization import check_precision, pop_precision, quantize_output
from FlagEmbedding.utils import long_text
from FlagEmbedding.utils.typing import Matrix, MatrixOutput, Vector, VectorOutput
from FlagEmbedding.utils.validation import check_positive_int, check_texts, unescape_newlines

logger = logging.getLogger(__name__)

Embeddings = Union[np.ndarray, torch.Tensor]


class AbsEmbedder(AbsInferenceModel):
    """Base class of every embedder.

    Args:
        model_name_or_path: Hub id or local folder of the model.
        normalize_embeddings: L2-normalize output vectors.
        use_fp16: Half precision on accelerators (the CPU always computes in fp32 unless ``use_bf16``).
        use_bf16: bfloat16 on every device, the CPU included (opt-in; faster, slightly less exact).
        query_instruction_for_retrieval: Instruction put before each query.
        query_instruction_format: Format with two slots, instruction then query.
        devices: See :func:`~FlagEmbedding.abc.inference.devices.get_target_devices`.
        batch_size: Inputs per forward pass (shrunk automatically on out-of-memory).
        query_max_length: Token limit for queries.
        passage_max_length: Token limit for passages and for :meth:`encode`.
        convert_to_numpy: Return numpy arrays instead of torch tensors.
        truncate_dim: Keep only the first ``truncate_dim`` features (before normalization).
        long_text_strategy: Inputs longer than the limit: ``"truncate"`` (default), ``"chunk_max"`` or
            ``"chunk_mean"`` (see :mod:`FlagEmbedding.utils.long_text`; BGE-M3 adds ``"mcls"``). Applies to
            :meth:`encode` and :meth:`encode_corpus`; :meth:`encode_queries` truncates unless given one per call.
        long_text_stride: Tokens consecutive windows share (chunk strategies).
        **kwargs: The options of :class:`~FlagEmbedding.abc.inference.base.AbsInferenceModel` (``trust_remote_code``,
            ``cache_dir``, ``backend``, ``quantize``, ``onnx_cache_dir``) and of the subclass. As in FlagEmbedding
            1.4.2, all of them are kept in :attr:`kwargs` (subclasses forward theirs) and a keyword nothing
            declares becomes an attribute. :meth:`encode_corpus` reads ``passage_instruction_for_retrieval`` and
            ``passage_instruction_format`` (default ``"{}{}"``) from :attr:`kwargs`, as 1.4.2 did, so that
            changing them there takes effect.

    Attributes:
        kwargs: Every keyword given beyond the parameters above, by name (FlagEmbedding 1.4.2's record; the
            evaluation's embedding cache keys corpus vectors by it).
    """

    pool_method = "encode_single_device"
    record_options = ("passage_instruction_for_retrieval", "passage_instruction_format")
    DEFAULT_POOLING_METHOD = "cls"
    #: keyword arguments of ``encode`` that a subclass consumes itself (the rest reach the tokenizer)
    call_options: Tuple[str, ...] = ()
    #: the values ``long_text_strategy`` takes here
    LONG_TEXT_STRATEGIES: Tuple[str, ...] = long_text.EMBEDDER_STRATEGIES

    def __init__(
        self,
        model_name_or_path: str,
        normalize_embeddings: bool = True,
        use_fp16: bool = True,
        use_bf16: bool = False,
        query_instruction_for_retrieval: Optional[str] = None,
        query_instruction_format: str = "{}{}",
        devices: DevicesArg = None,
        batch_size: int = 256,
        query_max_length: int = 512,
        passage_max_length: int = 512,
        convert_to_numpy: bool = True,
        truncate_dim: Optional[int] = None,
        long_text_strategy: str = "truncate",
        long_text_stride: int = 0,
        **kwargs: Any,
    ):
        super().__init__(model_name_or_path, devices=devices, use_bf16=use_bf16, **kwargs)
        self.long_text_strategy = long_text.check_strategy(long_text_strategy, self.LONG_TEXT_STRATEGIES,
                                                           type(self).__name__)
        self.long_text_stride = long_text.check_stride(long_text_stride)
        self.kwargs: Dict[str, Any] = kwargs
        self.normalize_embeddings = normalize_embeddings
        self.use_fp16 = use_fp16
        self.query_instruction_for_retrieval = query_instruction_for_retrieval
        self.query_instruction_format = query_instruction_format
        self.batch_size = check_positive_int(batch_size, "batch_size")
        self.query_max_length = check_positive_int(query_max_length, "query_max_length")
        self.passage_max_length = check_positive_int(passage_max_length, "passage_max_length")
        self.convert_to_numpy = convert_to_numpy
        if truncate_dim is not None:
            check_positive_int(truncate_dim, "truncate_dim")
        self.truncate_dim = truncate_dim

    # ------------------------------------------------------------------ precision
    def get_model_torch_dtype(self) -> torch.dtype:
        """The dtype the weights are loaded in (:func:`~FlagEmbedding.abc.inference.devices.load_dtype`: fp32 on
        CPU unless ``use_bf16``; half precision only when every target device computes in it)."""
        return load_dtype(self.target_devices, self.use_fp16, self.use_bf16)

    # ------------------------------------------------------------------ instructions
    @staticmethod
    def get_detailed_instruct(instruction_format: str, instruction: str, sentence: str) -> str:
        """``instruction_format.format(instruction, sentence)`` after turning literal ``\\n`` into newlines."""
        return unescape_newlines(instruction_format).format(instruction, sentence)

    # ------------------------------------------------------------------ public encode API
    @overload
    def encode_queries(self, queries: str, batch_size: Optional[int] = ..., max_length: Optional[int] = ..., *,
                       convert_to_numpy: Optional[bool] = ..., **kwargs: Any) -> VectorOutput: ...

    @overload
    def encode_queries(self, queries: Sequence[str], batch_size: Optional[int] = ...,
                       max_length: Optional[int] = ..., *, convert_to_numpy: Optional[bool] = ...,
                       **kwargs: Any) -> MatrixOutput: ...

    def encode_queries(self, queries: Union[str, Sequence[str]], batch_size: Optional[int] = None,
                       max_length: Optional[int] = None, convert_to_numpy: Optional[bool] = None,
                       **kwargs: Any) -> Union[VectorOutput, MatrixOutput]:
        """Encode queries with the query instruction and ``query_max_length`` (truncated unless a
        ``long_text_strategy`` is given)."""
        kwargs.setdefault("long_text_strategy", "truncate")
        return self.encode(
            check_texts(queries, "queries"),
            batch_size=batch_size,
            max_length=max_length if max_length is not None else self.query_max_length,
            convert_to_numpy=convert_to_numpy,
            instruction=self.query_instruction_for_retrieval,
            instruction_format=self.query_instruction_format,
            **kwargs,
        )

    @overload
    def encode_corpus(self, corpus: str, batch_size: Optional[int] = ..., max_length: Optional[int] = ..., *,
                      convert_to_numpy: Optional[bool] = ..., **kwargs: Any) -> VectorOutput: ...

    @overload
    def encode_corpus(self, corpus: Sequence[str], batch_size: Optional[int] = ..., max_length: Optional[int] = ..., *,
                      convert_to_numpy: Optional[bool] = ..., **kwargs: Any) -> MatrixOutput: ...

    def encode_corpus(self, corpus: Union[str, Sequence[str]], batch_size: Optional[int] = None,
                      max_length: Optional[int] = None, convert_to_numpy: Optional[bool] = None,
                      **kwargs: Any) -> Union[VectorOutput, MatrixOutput]:
        """Encode passages with the optional passage instruction and ``passage_max_length``."""
        return self.encode(
            check_texts(corpus, "corpus"),
            batch_size=batch_size,
            max_length=max_length if max_length is not None else self.passage_max_length,
            convert_to_numpy=convert_to_numpy,
            instruction=self.kwargs.get("passage_instruction_for_retrieval"),
            instruction_format=self.kwargs.get("passage_instruction_format", "{}{}"),
            **kwargs,
        )

    @overload
    def encode(self, sentences: str, batch_size: Optional[int] = ..., max_length: Optional[int] = ..., *,
               convert_to_numpy: Optional[bool] = ..., instruction: Optional[str] = ...,
               instruction_format: Optional[str] = ..., **kwargs: Any) -> VectorOutput: ...

    @overload
    def encode(self, sentences: Sequence[str], batch_size: Optional[int] = ..., max_length: Optional[int] = ..., *,
               convert_to_numpy: Optional[bool] = ..., instruction: Optional[str] = ...,
               instruction_format: Optional[str] = ..., **kwargs: Any) -> MatrixOutput: ...

    def encode(self, sentences: Union[str, Sequence[str]], batch_size: Optional[int] = None,
               max_length: Optional[int] = None, convert_to_numpy: Optional[bool] = None,
               instruction: Optional[str] = None, instruction_format: Optional[str] = None,
               precision: str = "float32", calibration_embeddings: Optional[Any] = None,
               ranges: Optional[Any] = None, **kwargs: Any) -> Union[VectorOutput, MatrixOutput]:
        """Encode ``sentences``: one str gives one vector, a list gives a matrix (one row per input).

        ``precision`` (``float32``, ``int8``, ``uint8``, ``binary``, ``ubinary``) quantizes the normalized dense
        vectors (an M3 model's ``dense_vecs``; its sparse and ColBERT outputs stay float), int8 / uint8 with
        ``ranges`` or ranges calibrated from ``calibration_embeddings`` (default: this batch); see
        :func:`FlagEmbedding.utils.quantization.quantize_embeddings`."""
        check_precision(precision)
        sentences = check_texts(sentences, "sentences")
        call_kwargs = self.resolve_call_kwargs(
            batch_size, max_length, convert_to_numpy, self.passage_max_length, kwargs
        )
        if instruction is not None:
            fmt = instruction_format if instruction_format is not None else "{}{}"
            if isinstance(sentences, str):
                sentences = self.get_detailed_instruct(fmt, instruction, sentences)
            else:
                sentences = [self.get_detailed_instruct(fmt, instruction, s) for s in sentences]
        if self.uses_pool(sentences) and len(sentences) > 0:
            output = self.merge_results(self.run_on_devices(sentences, call_kwargs))
        else:
            output = self.encode_single_device(sentences, device=self.target_devices[0], **call_kwargs)
        return cast(Any, quantize_output(output, precision, ranges, calibration_embeddings))

    def resolve_call_kwargs(
        self,
        batch_size: Optional[int],
        max_length: Optional[int],
        convert_to_numpy: Optional[bool],
        default_max_length: int,
        kwargs: Dict[str, Any],
    ) -> Dict[str, Any]:
        """Keyword arguments of one single-device call: ``None`` takes the instance value (``default_max_length``
        for ``max_length``); batch size and length are checked; ``kwargs`` are appended."""
        return dict(
            batch_size=check_positive_int(batch_size if batch_size is not None else self.batch_size, "batch_size"),
            max_length=check_positive_int(max_length if max_length is not None else default_max_length, "max_length"),
            convert_to_numpy=self.convert_to_numpy if convert_to_numpy is None else convert_to_numpy,
            **kwargs,
        )

    def encode_multi_process(self, sentences: Union[str, List[str]], pool: Any, batch_size: Optional[int] = None,
                             max_length: Optional[int] = None, convert_to_numpy: Optional[bool] = None,
                             **kwargs: Any) -> Any:
        """Encode ``sentences`` with an explicitly started pool (see :meth:`start_multi_process_pool`); options
        default to the instance values as in :meth:`encode`."""
        sentences = check_texts(sentences, "sentences")
        precision, ranges, calibration = pop_precision(kwargs)  # as in encode
        call_kwargs = self.resolve_call_kwargs(batch_size, max_length, convert_to_numpy, self.passage_max_length, kwargs)
        if not sentences:
            output = self.encode_single_device(sentences, device=self.target_devices[0], **call_kwargs)
        else:
            output = self.merge_results(pool.map(sentences, call_kwargs))
        return quantize_output(output, precision, ranges, calibration)

    def merge_results(self, chunks: List[Any]) -> Any:
        """Concatenate per-device results: arrays along rows, tensors on ``target_devices[0]``."""
        if isinstance(chunks[0], np.ndarray):
            return np.concatenate(chunks, axis=0)
        if isinstance(chunks[0], torch.Tensor):
            return torch.cat([c.to(self.target_devices[0]) for c in chunks], dim=0)
        raise NotImplementedError("Unsupported type for results_list")

    @overload  # the options after max_length by keyword (BGE-M3's override takes return_* there)
    def encode_single_device(self, sentences: str, batch_size: int = ..., max_length: int = ..., *,
                             convert_to_numpy: bool = ..., device: Optional[str] = ..., **kwargs: Any) -> Any: ...

    @overload
    def encode_single_device(self, sentences: List[str], batch_size: int = ..., max_length: int = ..., *,
                             convert_to_numpy: bool = ..., device: Optional[str] = ..., **kwargs: Any) -> Any: ...

    @torch.inference_mode()
    def encode_single_device(self, sentences: Union[str, List[str]], batch_size: int = 256, max_length: int = 512,
                             convert_to_numpy: bool = True, device: Optional[str] = None, **kwargs: Any) -> Any:
        """Encode on one device with length-sorted batches.

        The keywords named in :attr:`call_options` go to :meth:`resolve_options`, the others to the tokenizer.
        Every input is tokenized once (:meth:`tokenize`), each padded batch becomes outputs
        (:meth:`embed_batch`) and the batch outputs are put back in input order (:meth:`gather_embeddings`);
        a subclass overrides those hooks, or this whole method as in FlagEmbedding 1.4.2.
        """
        single = isinstance(sentences, str)
        sentences = [sentences] if isinstance(sentences, str) else list(sentences)
        options = self.resolve_options({name: kwargs.pop(name) for name in self.call_options if name in kwargs})
        options.update(self.long_text_options(kwargs))
        device = device or self.target_devices[0]
        model = self.model_on(device)
        features = self.tokenize_inputs(sentences, max_length, options, **kwargs) if sentences else {"input_ids": []}
        owners = long_text.pop_owners(features)

        def run_batch(indices: List[int]) -> Any:
            return self.embed_batch(model, self.pad_batch(features, indices, device, **kwargs), options)

        lengths = [len(ids) for ids in features["input_ids"]]
        outputs, index_batches = self.run_batches(model, lengths, batch_size, run_batch, "Inference Embeddings",
                                                  device)
        if owners is None:
            return self.gather_embeddings(outputs, index_batches, single, convert_to_numpy, options)
        rows = self.gather_embeddings(outputs, index_batches, False, False, options)
        return self.merge_chunks(rows, owners, len(sentences), single, convert_to_numpy, options)

    # ------------------------------------------------------------------ hooks of encode_single_device
    def resolve_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """Fill and check the subclass's per-call options (see :attr:`call_options`)."""
        return options

    def long_text_options(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """Pop the per-call ``long_text_strategy`` / ``long_text_stride`` from ``kwargs`` (``None``: the instance
        value) and check them."""
        return long_text.call_options(kwargs, self, self.LONG_TEXT_STRATEGIES)

    def tokenize_inputs(self, sentences: List[str], max_length: int, options: Dict[str, Any],
                        **kwargs: Any) -> Dict[str, List[Any]]:
        """:meth:`tokenize`, or with a chunk strategy every window of every input plus the input each belongs to
        (:func:`~FlagEmbedding.utils.long_text.chunk_features`)."""
        if options["long_text_strategy"] in ("chunk_max", "chunk_mean"):
            return long_text.chunk_features(self.tokenizer, sentences, max_length, options["long_text_stride"],
                                            **kwargs)
        return self.tokenize(sentences, max_length, **kwargs)

    def merge_chunks(self, rows: Any, owners: List[int], count: int, single: bool, convert_to_numpy: bool,
                     options: Dict[str, Any]) -> Any:
        """The window outputs (:meth:`gather_embeddings` of every window, as tensors) pooled into one output per
        input (:func:`~FlagEmbedding.utils.long_text.pool_rows`)."""
        pooled = long_text.pool_rows(rows, owners, count, options["long_text_strategy"], self.normalize_embeddings)
        return self.to_output(pooled, single, convert_to_numpy)

    def tokenize(self, sentences: List[str], max_length: int, **kwargs: Any) -> Dict[str, List[List[int]]]:
        """Tokenize without padding (the tokenizer's default special tokens included)."""
        return self.tokenizer(sentences, truncation=True, max_length=max_length, **kwargs).data

    def embed_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> Any:
        """The outputs of one padded batch (rows in batch order): vectors of shape ``[batch, dim]`` here."""
        raise NotImplementedError(f"{type(self).__name__} must implement embed_batch() or encode_single_device().")

    def gather_embeddings(self, outputs: List[Any], index_batches: List[List[int]], single: bool,
                          convert_to_numpy: bool, options: Dict[str, Any]) -> Any:
        """The batch outputs of :meth:`embed_batch` as one result in input order (see :meth:`to_output`)."""
        embeddings = (restore_order(torch.cat(outputs, dim=0), index_batches) if outputs
                      else torch.empty(0, self.embedding_dim))
        return self.to_output(embeddings, single, convert_to_numpy)

    @property
    def embedding_dim(self) -> int:
        """Width of the returned vectors (after ``truncate_dim``)."""
        hidden: int = getattr(self.model, "config").hidden_size  # HF models and M3Model have a config
        return min(hidden, self.truncate_dim) if self.truncate_dim else hidden

    # ------------------------------------------------------------------ shared post-processing
    def finish_embeddings(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Apply ``truncate_dim`` then L2 normalization (if enabled) to a batch of vectors."""
        if self.truncate_dim is not None:
            embeddings = embeddings[..., : self.truncate_dim]
        if self.normalize_embeddings:
            embeddings = torch.nn.functional.normalize(embeddings, dim=-1)
        return embeddings

    @staticmethod
    def to_output(embeddings: torch.Tensor, single: bool, convert_to_numpy: bool) -> Embeddings:
        """Return a tensor or an fp32/fp16 numpy array; a single input gives its 1-D row."""
        output: Embeddings = embeddings
        if convert_to_numpy:
            output = (embeddings.float() if embeddings.dtype == torch.bfloat16 else embeddings).cpu().numpy()
        return output[0] if single else output
