"""Decoder-only LLM reranker (``FlagLLMReranker``, bge-reranker-v2-gemma): the ``Yes`` logit is the score."""
from __future__ import annotations

import inspect
import logging
from typing import Any, Dict, List, Optional, Tuple

import torch
from transformers import AutoModelForCausalLM

from FlagEmbedding.abc.inference.devices import load_dtype
from FlagEmbedding.abc.inference.reranker import AbsReranker, Features
from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.long_text import OWNER_KEY, windows
from FlagEmbedding.utils.pooling import last_token_indices
from FlagEmbedding.utils.reranker_inputs import DEFAULT_LLM_PROMPT, bos_ids, llm_input_ids, yes_token_id

logger = logging.getLogger(__name__)
#: LLM reranker batches are padded to a multiple of this many tokens (FlagEmbedding 1.4.2's value)
PAD_TO_MULTIPLE_OF = 8

class BaseLLMReranker(AbsReranker):
    """LLM reranker scoring ``bos + "A: " q + "\\n" + "B: " p + "\\n" + prompt`` by the logit of ``Yes``.

    The query is cut to ``query_max_length`` tokens and the passage to ``max_length``; the passage is then
    cut further so query + separator + passage fit ``max_length + len(sep) + len(prompt)``.

    Args (beyond :class:`~FlagEmbedding.abc.inference.AbsReranker`):
        peft_path: A LoRA adapter folder, loaded with peft and merged into the weights.
        use_bf16: Load and compute in bfloat16 (on CPU too).
        query_instruction_for_rerank: Defaults to ``"A: "`` (``None``: the query is used as is).
        passage_instruction_for_rerank: Defaults to ``"B: "`` (``None``: the passage is used as is).
        cache_dir: Hugging Face download cache.
        trust_remote_code: Passed to ``from_pretrained``.
        prompt: The instruction appended after the passage (default :attr:`DEFAULT_PROMPT`).
        attn_implementation: Passed to ``from_pretrained`` (None: the transformers default for the model).

    The options of this class are also kept in :attr:`kwargs`, as in FlagEmbedding 1.4.2.
    """

    call_options: Tuple[str, ...] = ("prompt",)
    pad_kwargs = {"pad_to_multiple_of": PAD_TO_MULTIPLE_OF}
    DEFAULT_PROMPT = DEFAULT_LLM_PROMPT
    #: prepend BOS even when it is the pad token (the layer-wise models)
    ALWAYS_BOS = False
    #: add ``query_lengths`` / ``prompt_lengths`` to the features (token compression needs them)
    needs_span_lengths = False

    def __init__(
        self,
        model_name_or_path: str,
        *,
        peft_path: Optional[str] = None,
        use_bf16: bool = False,
        query_instruction_for_rerank: Optional[str] = "A: ",
        passage_instruction_for_rerank: Optional[str] = "B: ",
        cache_dir: Optional[str] = None,
        trust_remote_code: bool = False,
        prompt: Optional[str] = None,
        attn_implementation: Optional[str] = None,
        **kwargs: Any,
    ):
        super().__init__(
            model_name_or_path,
            query_instruction_for_rerank=query_instruction_for_rerank,
            passage_instruction_for_rerank=passage_instruction_for_rerank,
            peft_path=peft_path,
            use_bf16=use_bf16,
            cache_dir=cache_dir,
            trust_remote_code=trust_remote_code,
            prompt=prompt,
            attn_implementation=attn_implementation,
            **kwargs,
        )
        self.peft_path = peft_path
        self.prompt = prompt
        self.attn_implementation = attn_implementation
        self.check_precision()
        self.tokenizer = self.load_tokenizer()
        self.configure_tokenizer()
        self.model = self.load_model(load_dtype(self.target_devices, self.use_fp16, self.use_bf16))
        if peft_path is not None:
            from peft import PeftModel

            self.model = PeftModel.from_pretrained(self.model, peft_path).merge_and_unload()
        self.model.eval()
        self._keeps_last_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        self.yes_loc = yes_token_id(self.tokenizer)

    # ------------------------------------------------------------------ hooks for the layer-wise variants
    def check_precision(self) -> None:
        """Adjust ``use_fp16`` / ``use_bf16`` before loading (no-op here)."""

    def configure_tokenizer(self) -> None:
        """Adjust the tokenizer after loading (no-op here: its own padding side is kept)."""

    def load_model(self, dtype: torch.dtype) -> torch.nn.Module:
        """Load the causal LM in ``dtype``."""
        return from_pretrained(
            AutoModelForCausalLM.from_pretrained, self.model_name_or_path,
            dtype=dtype, cache_dir=self.cache_dir, trust_remote_code=self.trust_remote_code, **self.load_kwargs(),
        )

    def load_kwargs(self) -> Dict[str, Any]:
        """Extra ``from_pretrained`` keywords: ``attn_implementation`` when one was asked for."""
        return {"attn_implementation": self.attn_implementation} if self.attn_implementation else {}

    # ------------------------------------------------------------------ AbsReranker hooks
    def resolve_options(self, options: Dict[str, Any]) -> Dict[str, Any]:
        """Per-call ``prompt`` (default: the instance prompt, else :attr:`DEFAULT_PROMPT`)."""
        prompt = options.get("prompt")
        if prompt is None:
            prompt = self.prompt if self.prompt is not None else self.DEFAULT_PROMPT
        if not isinstance(prompt, str):
            raise TypeError(f"`prompt` must be a str, got {type(prompt).__name__}.")
        return {**options, "prompt": prompt}

    def prepare_features(self, pairs: List[List[str]], query_max_length: int, max_length: int, options: Dict[str, Any],
                         tokenizer_kwargs: Dict[str, Any]) -> Tuple[Features, List[int]]:
        """``bos + q + sep + p + sep + prompt`` ids per pair; sort key = query + passage token count.

        Also records ``query_lengths`` (``bos + q + sep``) and ``prompt_lengths`` (``sep + prompt``) when
        :attr:`needs_span_lengths` is set. With ``long_text_strategy="maxp"`` a passage that does not fit gives one
        row per window (``min(max_length, room after bos + q + sep)`` tokens, sharing ``long_text_stride``).
        """
        plain = dict(add_special_tokens=False)
        sep = self.tokenizer("\n", **plain)["input_ids"]
        prompt = self.tokenizer(options["prompt"], **plain)["input_ids"]
        common = dict(add_special_tokens=False, truncation=True, **tokenizer_kwargs)
        queries = self.tokenizer([q for q, _ in pairs], max_length=query_max_length, **common)["input_ids"]
        maxp = options.get("long_text_strategy") == "maxp"  # absent: truncate
        passages = self.tokenizer([p for _, p in pairs], **{**common, "truncation": not maxp},
                                  **({} if maxp else {"max_length": max_length}))["input_ids"]
        bos = bos_ids(self.tokenizer, always=self.ALWAYS_BOS)
        limit = max_length + len(sep) + len(prompt)
        features: Features = {"input_ids": [], "attention_mask": []}
        if self.needs_span_lengths:
            features.update(query_lengths=[], prompt_lengths=[])
        if maxp:
            features[OWNER_KEY] = []
        lengths = []
        for index, (query, passage) in enumerate(zip(queries, passages)):
            # maxp: windows of the passage that fit next to the query (at most max_length tokens each)
            size = min(max_length, limit - len(bos) - len(query) - len(sep))
            pieces = (windows(passage, size, min(options["long_text_stride"], size - 1)) if maxp and size > 0
                      else [passage[:max_length]])
            for piece in pieces:
                ids = llm_input_ids(bos, query, sep, piece, prompt, limit)
                features["input_ids"].append(ids)
                features["attention_mask"].append([1] * len(ids))
                lengths.append(len(query) + len(piece))
                if maxp:
                    features[OWNER_KEY].append(index)
                if self.needs_span_lengths:
                    features["query_lengths"].append(len(bos) + len(query) + len(sep))
                    features["prompt_lengths"].append(len(sep) + len(prompt))
        return features, lengths

    def score_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor], options: Dict[str, Any]) -> torch.Tensor:
        """The ``Yes`` logit at each row's last real token."""
        return self.last_token_logits(model, batch)[:, self.yes_loc].float()

    def last_token_logits(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``[batch, vocab]`` next-token logits at each row's last real token (only the last position is
        computed when every row ends there and the model supports ``logits_to_keep``)."""
        mask = batch["attention_mask"]
        if self._keeps_last_logits and bool(mask[:, -1].all()):
            return model(**batch, logits_to_keep=1).logits[:, -1]
        logits = model(**batch).logits
        rows = torch.arange(logits.shape[0], device=logits.device)
        return logits[rows, last_token_indices(mask)]
