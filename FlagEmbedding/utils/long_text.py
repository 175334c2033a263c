"""Long inputs: the long-text strategies of the embedders and rerankers (issue 22, part 3).

Texts longer than the token limit are truncated by default (``"truncate"``, FlagEmbedding 1.4.2's behaviour).
The other strategies keep the whole text:

* ``"chunk_max"`` / ``"chunk_mean"`` (embedders): the text is split into windows of token ids that fit
  ``max_length`` with the model's special tokens, consecutive windows sharing ``long_text_stride`` tokens (the
  ``stride`` of Hugging Face tokenizers); every window is embedded as a text of its own and the text's vector is
  the elementwise max / mean of its window vectors, L2-normalized again when ``normalize_embeddings`` is set.
* ``"mcls"`` (BGE-M3 only, the M3 paper's Multi-CLS): a CLS token starts every block of ``mcls_interval`` tokens;
  the dense vector is the mean of the CLS hidden states.
* ``"maxp"`` (rerankers): the passage is split into windows that fit ``max_length`` next to the query; the pair's
  score is the max over its (query, window) scores.

An input that fits the limit is one window: its output is the truncating one, unchanged.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from FlagEmbedding.utils.errors import InputError

#: strategies every embedder accepts (BGE-M3 adds ``"mcls"``)
EMBEDDER_STRATEGIES: Tuple[str, ...] = ("truncate", "chunk_max", "chunk_mean")
#: strategies every reranker accepts
RERANKER_STRATEGIES: Tuple[str, ...] = ("truncate", "maxp")
#: the M3 paper's interval between inserted CLS tokens
DEFAULT_MCLS_INTERVAL = 256
#: feature key that carries, for each window row, the index of the input it belongs to (removed before batching)
OWNER_KEY = "long_text_owner"


def check_strategy(strategy: Any, allowed: Sequence[str], where: str) -> str:
    """``strategy`` when it is one of ``allowed``; else a ``ValueError`` naming ``long_text_strategy``, the
    allowed values and, for ``"mcls"``, the one class that takes it."""
    if strategy in allowed:
        return str(strategy)
    hint = " ('mcls' is BGE-M3's: use M3Embedder)" if strategy == "mcls" else ""
    raise InputError(f"`long_text_strategy` of {where} must be one of {', '.join(allowed)}; got {strategy!r}{hint}.")


def check_stride(stride: Any) -> int:
    """``long_text_stride`` when it is an int >= 0 (tokens shared by consecutive windows)."""
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 0:
        raise InputError(f"`long_text_stride` must be an integer >= 0 (tokens shared by consecutive windows), "
                         f"got {stride!r}.")
    return stride


def call_options(kwargs: Dict[str, Any], owner: Any, allowed: Sequence[str]) -> Dict[str, Any]:
    """Pop the per-call ``long_text_strategy`` / ``long_text_stride`` from ``kwargs`` and check them (``None`` or
    absent: the values ``owner``, the embedder or reranker, was built with)."""
    strategy = kwargs.pop("long_text_strategy", None)
    stride = kwargs.pop("long_text_stride", None)
    return {"long_text_strategy": check_strategy(owner.long_text_strategy if strategy is None else strategy,
                                                 allowed, type(owner).__name__),
            "long_text_stride": check_stride(owner.long_text_stride if stride is None else stride)}


def check_window(window: int, stride: int, what: str) -> None:
    """Refuse a ``long_text_stride`` that leaves no new token per window of ``window`` tokens."""
    if stride >= window:
        raise InputError(f"`long_text_stride` ({stride}) must be smaller than the {window} tokens of a window "
                         f"({what}); lower it or raise the length limit.")


def windows(ids: Sequence[int], size: int, stride: int) -> List[List[int]]:
    """``ids`` cut into pieces of at most ``size`` tokens, each sharing its first ``stride`` tokens with the end of
    the previous one (the pieces Hugging Face tokenizers return as overflowing tokens); one piece when it fits."""
    pieces = [list(ids[:size])]
    start = 0
    while start + size < len(ids):
        start += size - stride
        pieces.append(list(ids[start:start + size]))
    return pieces


def chunk_features(tokenizer: Any, sentences: List[str], max_length: int, stride: int,
                   **kwargs: Any) -> Dict[str, List[Any]]:
    """Token features of every window of every sentence (see :func:`windows`), each with the tokenizer's special
    tokens, plus :data:`OWNER_KEY`: the sentence each row belongs to. A sentence that fits ``max_length`` gives
    exactly its truncating tokenization."""
    window = max_length - tokenizer.num_special_tokens_to_add(pair=False)
    check_window(window, stride, f"max_length {max_length} minus the special tokens")
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(f"long-text chunking needs a fast (Rust) tokenizer; {type(tokenizer).__name__} is not one.")
    features = tokenizer(sentences, truncation=True, max_length=max_length, return_overflowing_tokens=True,
                         stride=stride, **kwargs).data
    features[OWNER_KEY] = list(features.pop("overflow_to_sample_mapping"))
    return features


def pop_owners(features: Dict[str, List[Any]]) -> Optional[List[int]]:
    """Remove and return :data:`OWNER_KEY` from ``features`` (``None``: one row per input)."""
    return features.pop(OWNER_KEY, None)


def pool_rows(rows: torch.Tensor, owners: Sequence[int], count: int, strategy: str, normalize: bool) -> torch.Tensor:
    """``[count, dim]``: per input, the max (``chunk_max``) or mean (``chunk_mean``) of its window rows, each
    row L2-normalized again when ``normalize``."""
    index = torch.as_tensor(list(owners), dtype=torch.long, device=rows.device)
    values = rows.float()
    out = torch.zeros(count, rows.shape[1], dtype=values.dtype, device=rows.device)
    if strategy == "chunk_max":
        out = out.fill_(float("-inf")).scatter_reduce_(0, index[:, None].expand_as(values), values, "amax")
    else:
        out = out.index_add_(0, index, values) / torch.bincount(index, minlength=count).clamp(min=1)[:, None]
    if normalize:
        out = torch.nn.functional.normalize(out, dim=-1)
    return out.to(rows.dtype)


def group_rows(items: Sequence[Any], owners: Sequence[int], count: int) -> List[List[Any]]:
    """``items`` (one per window row) grouped by input, in window order."""
    groups: List[List[Any]] = [[] for _ in range(count)]
    for item, owner in zip(items, owners):
        groups[owner].append(item)
    return groups


def counts_per_input(counts: Sequence[int], owners: Optional[Sequence[int]], count: int) -> List[int]:
    """Token counts of window rows summed per input (``owners`` ``None``: one row per input, unchanged)."""
    if owners is None:
        return list(counts)
    return [sum(group) for group in group_rows(counts, owners, count)]


def max_scores(scores: torch.Tensor, owners: Sequence[int], count: int) -> torch.Tensor:
    """MaxP: per pair, the max score over its window rows (``[rows]`` or ``[rows, layers]``)."""
    index = torch.as_tensor(list(owners), dtype=torch.long, device=scores.device)
    shape = (count,) + tuple(scores.shape[1:])
    out = torch.full(shape, float("-inf"), dtype=scores.dtype, device=scores.device)
    index = index.view((-1,) + (1,) * (scores.dim() - 1)).expand_as(scores)
    return out.scatter_reduce_(0, index, scores, "amax")


def insert_cls(ids: Sequence[int], cls_id: int, interval: int, max_length: int) -> List[int]:
    """Multi-CLS input: ``ids`` (``[CLS] tokens [SEP]``) with a CLS token at every position that is a multiple of
    ``interval``, the tokens cut so the result, the inserted CLS tokens counted, fits ``max_length``. Inputs of at
    most ``interval`` tokens are returned unchanged."""
    if len(ids) <= interval:
        return list(ids)
    head, body, tail = list(ids[:1]), ids[1:-1], list(ids[-1:])
    out = head
    for token in body:
        if len(out) % interval == 0:
            if len(out) + 2 + len(tail) > max_length:
                break
            out.append(cls_id)
        if len(out) + 1 + len(tail) > max_length:
            break
        out.append(token)
    return out + tail


def mcls_features(features: Dict[str, List[Any]], cls_id: int, interval: int, max_length: int) -> None:
    """Rewrite the rows of ``features`` in place with :func:`insert_cls` (masks of ones, token types of zeros)."""
    for row, ids in enumerate(features["input_ids"]):
        if len(ids) <= interval:
            continue
        new_ids = insert_cls(ids, cls_id, interval, max_length)
        features["input_ids"][row] = new_ids
        for key in features:
            if key != "input_ids":
                features[key][row] = [1 if key == "attention_mask" else 0] * len(new_ids)
