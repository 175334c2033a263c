"""Abstract reranker: constructor contract, instruction formatting, input checks and device dispatch.

Subclasses say how pairs become token features (:meth:`AbsReranker.prepare_features`) and how a padded batch
becomes scores (:meth:`AbsReranker.score_batch`); batching, precision, order restoration, normalization and
the multi-device pool live here once.
"""
from __future__ import annotations

import functools
import logging
from abc import abstractmethod
from typing import Any, Dict, List, Optional, Tuple, Union, cast

import torch
import torch.multiprocessing as mp
from torch.utils.data import DataLoader, Dataset

from FlagEmbedding.abc.inference.base import AbsInferenceModel
from FlagEmbedding.abc.inference.batching import restore_order
from FlagEmbedding.abc.inference.devices import DevicesArg, get_target_devices as _get_target_devices
from FlagEmbedding.utils import long_text
from FlagEmbedding.utils.validation import check_pairs, check_positive_int, is_single_pair, unescape_newlines

logger = logging.getLogger(__name__)

#: One score, a list of scores (one per pair) or one list per layer (layer-wise rerankers).
Scores = Union[float, List[float], List[List[float]]]
#: Token features of every pair, one list entry per pair (``input_ids``, ``attention_mask``, ...).
Features = Dict[str, List[Any]]
#: share of ``max_length`` a query may use when no ``query_max_length`` is set (FlagEmbedding 1.4.2's
#: ``max_length * 3 // 4``: 384 of 512 tokens)
DEFAULT_QUERY_SHARE = 0.75
#: most DataLoader worker processes building token features (FlagEmbedding 1.4.2's ``min(batch_size, 16)``)
MAX_FEATURE_WORKERS = 16


class AbsReranker(AbsInferenceModel):
    """Base class of every reranker.

    Args:
        model_name_or_path: Hub id or local folder of the model.
        use_fp16: Half precision on accelerators (the CPU always computes in fp32 unless ``use_bf16``).
        query_instruction_for_rerank: Instruction put before each query (None: the query is used as is).
        query_instruction_format: Format with two slots, instruction then query (literal ``\\n`` allowed).
        passage_instruction_for_rerank: Instruction put before each passage (None: used as is).
        passage_instruction_format: Format with two slots, instruction then passage.
        devices: See :func:`~FlagEmbedding.abc.inference.devices.get_target_devices` (MPS is always ``"mps"``).
        batch_size: Pairs per forward pass (shrunk automatically on out-of-memory).
        query_max_length: Token limit for the query (default: :data:`DEFAULT_QUERY_SHARE` of ``max_length``).
        max_length: Token limit for the passage and for the assembled pair.
        normalize: Map scores through a sigmoid to (0, 1).
        long_text_strategy: Passages too long for the pair: ``"truncate"`` (default) or ``"maxp"`` (the max
            score over windows of the passage, see :mod:`FlagEmbedding.utils.long_text`).
        long_text_stride: Tokens consecutive passage windows share (``maxp``).
        **kwargs: The options of :class:`~FlagEmbedding.abc.inference.base.AbsInferenceModel` (``use_bf16=True``
            opts into bfloat16 compute, on CPU too; ``trust_remote_code``, ``cache_dir``, ``backend``, ...) and of
            the subclass. As in FlagEmbedding 1.4.2, all of them are kept in :attr:`kwargs` (subclasses forward
            theirs) and a keyword nothing declares becomes an attribute.

    Attributes:
        kwargs: Every keyword given beyond the parameters above, by name (FlagEmbedding 1.4.2's record).
    """

    pool_method = "compute_score_single_gpu"
    #: keyword arguments of ``compute_score`` that a subclass consumes itself (the rest reach the tokenizer)
    call_options: Tuple[str, ...] = ()

    def __init__(
        self,
        model_name_or_path: str,
        use_fp16: bool = False,
        query_instruction_for_rerank: Optional[str] = None,
        query_instruction_format: str = "{}{}",
        passage_instruction_for_rerank: Optional[str] = None,
        passage_instruction_format: str = "{}{}",
        devices: DevicesArg = None,
        batch_size: int = 128,
        query_max_length: Optional[int] = None,
        max_length: int = 512,
        normalize: bool = False,
        long_text_strategy: str = "truncate",
        long_text_stride: int = 0,
        **kwargs: Any,
    ):
        super().__init__(model_name_or_path, devices=devices, **kwargs)
        self.long_text_strategy = long_text.check_strategy(long_text_strategy, long_text.RERANKER_STRATEGIES,
                                                           type(self).__name__)
        self.long_text_stride = long_text.check_stride(long_text_stride)
        self.kwargs: Dict[str, Any] = kwargs
        self.use_fp16 = use_fp16
        self.query_instruction_for_rerank = query_instruction_for_rerank
        self.query_instruction_format = query_instruction_format
        self.passage_instruction_for_rerank = passage_instruction_for_rerank
        self.passage_instruction_format = passage_instruction_format
        self.batch_size = check_positive_int(batch_size, "batch_size")
        if query_max_length is not None:
            check_positive_int(query_max_length, "query_max_length")
        self.query_max_length = query_max_length
        self.max_length = check_positive_int(max_length, "max_length")
        self.normalize = normalize

    @staticmethod
    def get_target_devices(devices: DevicesArg) -> List[str]:
        """Resolve ``devices`` (rerankers use ``["mps"]`` on Apple silicon)."""
        return _get_target_devices(devices, mps_with_index=False)

    # ------------------------------------------------------------------ instructions
    def get_detailed_instruct(self, instruction_format: str, instruction: str, sentence: str) -> str:
        """``instruction_format.format(instruction, sentence)`` after turning literal ``\\n`` into newlines."""
        return unescape_newlines(instruction_format).format(instruction, sentence)

    def get_detailed_inputs(self, sentence_pairs: Any) -> List[List[str]]:
        """``[[query, passage], ...]`` with each side formatted only when its instruction is set."""
        pairs = check_pairs(sentence_pairs)
        query_instruction = self.query_instruction_for_rerank
        passage_instruction = self.passage_instruction_for_rerank
        detailed = []
        for query, passage in pairs:
            if query_instruction is not None:
                query = self.get_detailed_instruct(self.query_instruction_format, query_instruction, query)
            if passage_instruction is not None:
                passage = self.get_detailed_instruct(self.passage_instruction_format, passage_instruction, passage)
            detailed.append([query, passage])
        return detailed

    # ------------------------------------------------------------------ public API
    def compute_score(self, sentence_pairs: Any, **kwargs: Any) -> Scores:
        """Score ``(query, passage)`` pairs; a higher score means more relevant.

        Args:
            sentence_pairs: One pair (a list or tuple of two str) or a list of pairs.
            **kwargs: ``batch_size``, ``query_max_length``, ``max_length``, ``normalize`` and the subclass's
                own options override the instance values for this call; other keywords reach the tokenizer.

        Returns:
            A list of floats (one per pair, in input order) on one device and on several; one list per layer
            when a layer-wise reranker scores several layers. One pair gives one float (one per layer).
            ``[]`` gives ``[]``.
        """
        single = is_single_pair(sentence_pairs)
        pairs = self.get_detailed_inputs(sentence_pairs)
        if not pairs:
            return []
        kwargs = self.resolve_call_kwargs(kwargs)
        if self.uses_pool(pairs) and not single:
            scores = self.merge_scores(self.run_on_devices(pairs, kwargs))
        else:
            scores = self.compute_score_single_gpu(pairs, device=self.target_devices[0], **kwargs)
        if single:
            return [layer[0] for layer in scores] if isinstance(scores[0], list) else scores[0]
        return scores

    def encode_multi_process(self, sentence_pairs: Any, pool: Any, **kwargs: Any) -> List[Any]:
        """Score already formatted pairs with an explicitly started pool (see :meth:`start_multi_process_pool`);
        options default to the instance values as in :meth:`compute_score`."""
        pairs = check_pairs(sentence_pairs)
        kwargs = self.resolve_call_kwargs(kwargs)
        if not pairs:
            return []
        return self.merge_scores(pool.map(pairs, kwargs))

    def resolve_call_kwargs(self, kwargs: Dict[str, Any]) -> Dict[str, Any]:
        """Per-call keywords with ``batch_size``, the lengths and ``normalize`` filled from the instance."""
        kwargs = dict(kwargs)
        kwargs.update(self.resolve_lengths(
            kwargs.pop("batch_size", None), kwargs.pop("query_max_length", None), kwargs.pop("max_length", None)
        ))
        if kwargs.get("normalize") is None:
            kwargs["normalize"] = self.normalize
        return kwargs

    def resolve_lengths(
        self, batch_size: Optional[int], query_max_length: Optional[int], max_length: Optional[int]
    ) -> Dict[str, int]:
        """Fill per-call ``batch_size`` / ``query_max_length`` / ``max_length`` from the instance and check them."""
        batch_size = check_positive_int(batch_size if batch_size is not None else self.batch_size, "batch_size")
        max_length = check_positive_int(max_length if max_length is not None else self.max_length, "max_length")
        if query_max_length is None:
            query_max_length = (self.query_max_length if self.query_max_length is not None
                                else int(max_length * DEFAULT_QUERY_SHARE))
        query_max_length = check_positive_int(query_max_length, "query_max_length")
        return {"batch_size": batch_size, "query_max_length": query_max_length, "max_length": max_length}

    @staticmethod
    def merge_scores(chunks: List[List[Any]]) -> List[Any]:
        """Concatenate per-device results: flat lists end to end, per-layer lists layer by layer."""
        if isinstance(chunks[0][0], list):
            return [[score for chunk in chunks for score in chunk[layer]] for layer in range(len(chunks[0]))]
        return [score for chunk in chunks for score in chunk]

    @torch.inference_mode()
    def compute_score_single_gpu(self, sentence_pairs: Any, batch_size: Optional[int] = None,
                                 query_max_length: Optional[int] = None, max_length: Optional[int] = None, *,
                                 normalize: Optional[bool] = None, device: Optional[str] = None,
                                 use_dataloader: bool = False, num_workers: Optional[int] = None,
                                 **kwargs: Any) -> List[Any]:
        """Score already formatted pairs on one device with length-sorted batches.

        ``use_dataloader=True`` builds the token features in ``num_workers`` (default
        ``min(batch_size, 16)``) DataLoader worker processes. Everything after ``max_length`` is keyword-only:
        the original's reranker classes put different options at those positions (``prompt``,
        ``cutoff_layers``, ``normalize``), so a positional call fails instead of meaning another option.
        """
        pairs = check_pairs(sentence_pairs)
        lengths_args = self.resolve_lengths(batch_size, query_max_length, max_length)
        batch_size = lengths_args["batch_size"]
        if normalize is None:
            normalize = self.normalize
        if not pairs:
            return []
        options = {name: kwargs.pop(name) for name in self.call_options if name in kwargs}
        options = self.resolve_options(options)
        options.update(long_text.call_options(kwargs, self, long_text.RERANKER_STRATEGIES))
        device = device or self.target_devices[0]
        model = self.model_on(device)

        prepare_args = (lengths_args["query_max_length"], lengths_args["max_length"], options, kwargs)
        if use_dataloader:
            features, lengths = self.prepare_features_in_workers(pairs, batch_size, num_workers, prepare_args)
        else:
            features, lengths = self.prepare_features(pairs, *prepare_args)
        owners = long_text.pop_owners(features)  # maxp: the pair of each window row

        def run_batch(indices: List[int]) -> torch.Tensor:
            return self.score_batch(model, self.pad_batch(features, indices, device, **kwargs), options).float()

        outputs, index_batches = self.run_batches(model, lengths, batch_size, run_batch, "Compute Scores", device)
        scores = restore_order(torch.cat(outputs, dim=0), index_batches).cpu()
        if owners is not None:
            scores = long_text.max_scores(scores, owners, len(pairs))
        if normalize:
            scores = torch.sigmoid(scores)
        if scores.dim() == 1:
            return scores.tolist()
        if scores.shape[1] == 1:
            return scores[:, 0].tolist()
        return [scores[:, layer].tolist() for layer in range(scores.shape[1])]

    # ------------------------------------------------------------------ subclass hooks
    def resolve_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """Fill and check the subclass's per-call options (see :attr:`call_options`)."""
        return options

    @abstractmethod
    def prepare_features(self, pairs: List[List[str]], query_max_length: int, max_length: int, options: Dict[str, Any],
                         tokenizer_kwargs: Dict[str, Any]) -> Tuple[Features, List[int]]:
        """Token features of every pair and the length each pair is sorted by."""

    @abstractmethod
    def score_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> torch.Tensor:
        """Scores of one padded batch: shape ``[batch]``, or ``[batch, layers]`` for layer-wise models."""

    # ------------------------------------------------------------------ shared mechanics
    def prepare_features_in_workers(
        self, pairs: List[List[str]], batch_size: int, num_workers: Optional[int], prepare_args: Tuple[Any, ...]
    ) -> Tuple[Features, List[int]]:
        """:meth:`prepare_features` over chunks of ``batch_size`` pairs in DataLoader worker processes."""
        if num_workers is None:
            num_workers = min(batch_size, MAX_FEATURE_WORKERS)
        if mp.current_process().daemon:  # a device-pool worker may not start child processes
            num_workers = 0
        loader: DataLoader[List[str]] = DataLoader(
            cast("Dataset[List[str]]", pairs), batch_size=batch_size, shuffle=False, num_workers=num_workers,
            collate_fn=functools.partial(self._prepare_chunk, prepare_args=prepare_args),
        )
        features: Features = {}
        lengths: List[int] = []
        for chunk, (chunk_features, chunk_lengths) in enumerate(loader):
            for key, values in chunk_features.items():  # maxp owners count from the chunk's first pair
                features.setdefault(key, []).extend([chunk * batch_size + v for v in values]
                                                    if key == long_text.OWNER_KEY else values)
            lengths.extend(chunk_lengths)
        return features, lengths

    def _prepare_chunk(self, chunk: List[List[str]], prepare_args: Tuple[Any, ...]) -> Tuple[Features, List[int]]:
        return self.prepare_features([list(pair) for pair in chunk], *prepare_args)
