"""In-context-learning embedder (``FlagICLModel``, bge-en-icl): queries carry few-shot examples."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union, cast, overload

from FlagEmbedding.abc.inference.embedder import Matrix, Vector
from FlagEmbedding.compat import QueryPoolCompat
from FlagEmbedding.abc.inference.pool import MultiProcessPool
from FlagEmbedding.utils.quantization import pop_precision, quantize_output
from FlagEmbedding.utils.validation import check_texts, unescape_newlines
from FlagEmbedding.inference.embedder.decoder_only.base import BaseLLMEmbedder

Example = Dict[str, str]
#: the final tokenization limit of an ICL query rounds ``n = len(prefix) + len(suffix) + max_length`` tokens up to
#: the next multiple of LIMIT_MULTIPLE above ``n`` and adds LIMIT_SLACK tokens for the special tokens the
#: re-tokenization adds (FlagEmbedding 1.4.2's ``(n + 8) // 8 * 8 + 8``)
LIMIT_MULTIPLE = 8
LIMIT_SLACK = 8


class ICLLLMEmbedder(BaseLLMEmbedder, QueryPoolCompat):
    """Decoder embedder whose queries are preceded by task examples and followed by a response marker.

    A query becomes ``prefix + truncated(instruction-formatted query) + suffix``, where ``prefix`` holds the
    formatted examples (see :meth:`set_examples`). Passages and :meth:`encode` use the plain decoder path.
    On several devices queries run in their own worker pool (:attr:`query_pool`, keyed by
    :attr:`QUERY_POOL_METHOD`); like every pool, it stops when a pool of another method starts.

    Arguments not listed are those of :class:`~FlagEmbedding.inference.embedder.decoder_only.base.BaseLLMEmbedder`.
    Literal backslash-n pairs in both formats become newlines at construction.

    Args:
        query_instruction_format: Defaults to ``"<instruct>{}\\n<query>{}"``.
        suffix: Text appended to every query (default ``"\\n<response>"``).
        examples_for_task: List of dicts with keys ``instruct``, ``query`` and ``response``; a missing
            ``instruct`` falls back to ``query_instruction_for_retrieval``, the others to ``""``.
        examples_instruction_format: Three-slot format of one example.
    """

    #: the method the query pool's workers run
    QUERY_POOL_METHOD = "encode_queries_single_device"

    def __init__(
        self,
        model_name_or_path: str,
        *,
        query_instruction_format: str = "<instruct>{}\n<query>{}",
        suffix: str = "\n<response>",
        examples_for_task: Optional[List[Example]] = None,
        examples_instruction_format: str = "<instruct>{}\n<query>{}\n<response>{}",
        **kwargs: Any,
    ):
        super().__init__(
            model_name_or_path,
            query_instruction_format=unescape_newlines(query_instruction_format),
            **kwargs,
        )
        self.suffix = suffix
        self.examples_instruction_format = unescape_newlines(examples_instruction_format)
        self.examples_for_task: Optional[List[Example]] = None
        self.prefix = ""
        self.set_examples(examples_for_task)

    # ------------------------------------------------------------------ examples
    @staticmethod
    def get_detailed_example(instruction_format: str, instruction: Optional[str], query: str, response: str) -> str:
        """``instruction_format.format(instruction, query, response)`` after turning literal ``\\n`` into newlines."""
        return unescape_newlines(instruction_format).format(instruction, query, response)

    def set_examples(self, examples_for_task: Optional[List[Example]] = None) -> None:
        """Set (and keep) the task examples and rebuild ``self.prefix``.

        ``None`` rebuilds the prefix from the stored examples; a list replaces them. The prefix is the
        formatted examples joined by a blank line, plus a trailing blank line, or ``""`` without examples.
        A running query pool is stopped, so that its workers pick up the new prefix.
        """
        if examples_for_task is not None:
            self.examples_for_task = self._check_examples(examples_for_task)
        examples = self.examples_for_task or []
        formatted = [
            self.get_detailed_example(
                self.examples_instruction_format,
                example.get("instruct", self.query_instruction_for_retrieval),
                example.get("query", ""),
                example.get("response", ""),
            )
            for example in examples
        ]
        self.prefix = "\n\n".join(formatted) + "\n\n" if formatted else ""
        if self.query_pool is not None:
            self.stop_pools(self.QUERY_POOL_METHOD)

    @staticmethod
    def _check_examples(examples: Any) -> List[Example]:
        if not isinstance(examples, (list, tuple)):
            raise TypeError(f"`examples_for_task` must be a list of dicts, got {type(examples).__name__}.")
        for index, example in enumerate(examples):
            if not isinstance(example, dict):
                raise TypeError(
                    f"`examples_for_task[{index}]` must be a dict with keys 'instruct', 'query' and 'response', "
                    f"got {type(example).__name__}."
                )
        return list(examples)

    # ------------------------------------------------------------------ queries
    @overload
    def encode_queries(self, queries: str, batch_size: Optional[int] = ..., max_length: Optional[int] = ...,
                       convert_to_numpy: Optional[bool] = ..., **kwargs: Any) -> Vector: ...

    @overload
    def encode_queries(self, queries: Sequence[str], batch_size: Optional[int] = ..., max_length: Optional[int] = ...,
                       convert_to_numpy: Optional[bool] = ..., **kwargs: Any) -> Matrix: ...

    def encode_queries(
        self,
        queries: Union[str, Sequence[str]],
        batch_size: Optional[int] = None,
        max_length: Optional[int] = None,
        convert_to_numpy: Optional[bool] = None,
        **kwargs: Any,
    ) -> Union[Vector, Matrix]:
        """Encode queries with the examples prefix, the instruction and the suffix (see :meth:`build_queries`)."""
        queries = check_texts(queries, "queries")
        precision, ranges, calibration = pop_precision(kwargs)  # see AbsEmbedder.encode
        kwargs.setdefault("long_text_strategy", "truncate")  # queries are truncated, as in AbsEmbedder
        call_kwargs = self.resolve_call_kwargs(batch_size, max_length, convert_to_numpy, self.query_max_length, kwargs)
        if self.uses_pool(queries) and len(queries) > 0:
            output = self.merge_results(self.run_on_devices(queries, call_kwargs, self.QUERY_POOL_METHOD))
        else:
            output = self.encode_queries_single_device(queries, device=self.target_devices[0], **call_kwargs)
        return cast(Union[Vector, Matrix], quantize_output(output, precision, ranges, calibration))

    def build_queries(self, queries: List[str], max_length: int) -> Tuple[List[str], int]:
        """The full query texts and their token limit for a ``max_length`` budget.

        Each query is instruction-formatted, cut to ``max_length - len(tok('<s>')) - len(tok(suffix + '</s>'))``
        tokens (decoded back to text), then wrapped as ``prefix + query + suffix``. The limit for the final
        tokenization is ``n = len(tok(prefix)) + len(tok(suffix)) + max_length`` rounded up past the next
        multiple of :data:`LIMIT_MULTIPLE`, plus :data:`LIMIT_SLACK`.
        """
        if self.query_instruction_for_retrieval is not None:
            queries = [
                self.get_detailed_instruct(self.query_instruction_format, self.query_instruction_for_retrieval, q)
                for q in queries
            ]
        budget = max_length - self._count_tokens("<s>") - self._count_tokens(f"{self.suffix}</s>")
        if budget < 1:
            raise ValueError(
                f"`max_length` ({max_length}) leaves no room for the query: the BOS and the suffix "
                f"{self.suffix!r} alone take {max_length - budget} tokens."
            )
        if queries:
            ids = self.tokenizer(queries, add_special_tokens=False, truncation=True, max_length=budget)["input_ids"]
            queries = [self.prefix + text + self.suffix for text in self.tokenizer.batch_decode(ids)]
        needed = self._count_tokens(self.prefix) + self._count_tokens(self.suffix) + max_length
        limit = (needed + LIMIT_MULTIPLE) // LIMIT_MULTIPLE * LIMIT_MULTIPLE + LIMIT_SLACK
        return queries, limit

    def _count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode_queries_single_device(
        self,
        queries: Union[str, List[str]],
        batch_size: int = 256,
        max_length: int = 512,
        convert_to_numpy: bool = True,
        device: Optional[str] = None,
        **kwargs: Any,
    ) -> Any:
        """Encode queries on one device (the method the query pool's workers run)."""
        single = isinstance(queries, str)
        texts, limit = self.build_queries([queries] if isinstance(queries, str) else list(queries), max_length)
        return self.encode_single_device(
            texts[0] if single else texts, batch_size=batch_size, max_length=limit,
            convert_to_numpy=convert_to_numpy, device=device, **kwargs,
        )

    # ------------------------------------------------------------------ query pool
    @property
    def query_pool(self) -> Optional[MultiProcessPool]:
        """The running pool of :meth:`encode_queries_single_device`, or None."""
        return self.pools.get(self.QUERY_POOL_METHOD)

