"""How a (query, passage) pair becomes reranker input ids, shared by inference and fine-tuning.

One home for the LLM-reranker prompt, the ``Yes`` token whose logit is the score, the BOS rule and the
pair truncation (cross-encoder and LLM formats), so a pair scored by a training model and by the
inference class of the same checkpoint sees the same tokens.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from FlagEmbedding.utils.errors import InputError
from FlagEmbedding.utils.long_text import OWNER_KEY, windows

#: the instruction appended after the passage (row ``prompt`` in training data overrides it)
DEFAULT_LLM_PROMPT = (
    "Given a query A and a passage B, determine whether the passage contains an answer to the query by "
    "providing a prediction of either 'Yes' or 'No'."
)

#: token features of a list of pairs: ``input_ids``, ``attention_mask`` (and ``token_type_ids``)
Features = Dict[str, List[Any]]


def yes_token_id(tokenizer: Any) -> int:
    """Id of the token whose logit at the last position is the relevance score: the first sub-token of ``Yes``.

    The original's inference read the first sub-token and its training the last; the score is the
    next-token prediction after the prompt, i.e. the first token of the answer ``Yes``, and the two agree
    for every released checkpoint (``Yes`` is one token in Gemma, MiniCPM and Llama vocabularies).
    """
    ids = tokenizer("Yes", add_special_tokens=False)["input_ids"]
    if not ids:
        raise InputError("The tokenizer encodes 'Yes' to no token; it cannot score an LLM reranker.")
    return ids[0]


def bos_ids(tokenizer: Any, always: bool = False) -> List[int]:
    """The BOS prefix of an LLM-reranker input: ``[bos]`` when the tokenizer has a BOS distinct from its pad
    token (``always``: whenever it has one, as the layer-wise rerankers do)."""
    bos, pad = tokenizer.bos_token_id, tokenizer.pad_token_id
    if bos is None or (bos == pad and not always):
        return []
    return [bos]


def keep_of_second(first_length: int, second_length: int, limit: int) -> int:
    """How many tokens of the second sequence survive ``only_second`` truncation to ``limit`` tokens in total.

    When the first sequence alone leaves no room, nothing is cut (the pair then exceeds ``limit``), as in
    ``transformers``' ``truncation="only_second"``.
    """
    overflow = first_length + second_length - limit
    if overflow <= 0 or second_length <= overflow:
        return second_length
    return second_length - overflow


def llm_input_ids(bos: Sequence[int], query_ids: Sequence[int], sep_ids: Sequence[int],
                  passage_ids: Sequence[int], prompt_ids: Sequence[int], pair_limit: int) -> List[int]:
    """``bos + query + sep + passage + sep + prompt`` with the passage side cut (``only_second``) so that
    ``bos + query + sep + passage`` fits ``pair_limit`` tokens."""
    first = list(bos) + list(query_ids)
    second = list(sep_ids) + list(passage_ids)
    second = second[: keep_of_second(len(first), len(second), pair_limit)]
    return first + second + list(sep_ids) + list(prompt_ids)


def cross_encoder_features(tokenizer: Any, pairs: Sequence[Sequence[str]], query_max_length: int,
                           passage_max_length: int, max_length: int, *, maxp_stride: Optional[int] = None,
                           **tokenizer_kwargs: Any) -> Features:
    """Cross-encoder inputs of ``pairs``: query and passage cut to their own budgets, joined with the
    tokenizer's pair special tokens (XLM-R: ``<s> q </s></s> p </s>``), the passage cut so the pair fits
    ``max_length`` (exact token ids, no re-tokenization).

    With ``maxp_stride`` (``long_text_strategy="maxp"``) the passage is not cut: each pair gives one row per
    window of the passage that fits next to the query, consecutive windows sharing ``maxp_stride`` tokens (at
    most the window minus one), and ``features[OWNER_KEY]`` holds the pair of each row."""
    common = dict(add_special_tokens=False, truncation=True, **tokenizer_kwargs)
    queries = tokenizer([q for q, _ in pairs], max_length=query_max_length, **common)
    if maxp_stride is None:
        passages = tokenizer([p for _, p in pairs], max_length=passage_max_length, **common)
    else:
        passages = tokenizer([p for _, p in pairs], **{**common, "truncation": False})
    with_type_ids = "token_type_ids" in tokenizer.model_input_names
    features: Features = {"input_ids": [], "attention_mask": []}
    if with_type_ids:
        features["token_type_ids"] = []
    if maxp_stride is not None:
        features[OWNER_KEY] = []
    content_limit = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    for index in range(len(pairs)):
        for ids, type_ids in _join_pair(tokenizer, queries, passages, index, content_limit,
                                        passage_max_length, maxp_stride):
            features["input_ids"].append(ids)
            features["attention_mask"].append([1] * len(ids))
            if with_type_ids:
                features["token_type_ids"].append(type_ids)
            if maxp_stride is not None:
                features[OWNER_KEY].append(index)
    return features


def _join_pair(tokenizer: Any, queries: Any, passages: Any, index: int, content_limit: int,
               passage_max_length: int, maxp_stride: Optional[int] = None) -> List[Tuple[List[int], List[int]]]:
    """Ids and token type ids of pair ``index``, the passage cut so query + passage fit ``content_limit`` (with
    ``maxp_stride``: one entry per window of a passage that does not fit, see :func:`cross_encoder_features`)."""
    fast = bool(getattr(queries, "encodings", None))  # fast tokenizer: assemble the backend encodings
    query, passage = ((queries.encodings[index], passages.encodings[index]) if fast
                      else (queries["input_ids"][index], passages["input_ids"][index]))
    keep = keep_of_second(len(query), len(passage), content_limit)
    split = maxp_stride is not None and keep < len(passage)
    stride = min(maxp_stride or 0, keep - 1)
    if not fast:
        pieces = windows(passage, keep, stride) if split else [passage[:min(keep, passage_max_length)]]
        return [(tokenizer.build_inputs_with_special_tokens(query, piece),
                 tokenizer.create_token_type_ids_from_sequences(query, piece)) for piece in pieces]
    if split:
        passage.truncate(keep, stride=stride)
    else:
        passage.truncate(min(keep, passage_max_length))
    processor = tokenizer.backend_tokenizer.post_processor
    merged = [type(query).merge([query, piece]) if processor is None
              else processor.process(query, piece, add_special_tokens=True)
              for piece in [passage, *(passage.overflowing if split else [])]]
    return [(list(m.ids), list(m.type_ids)) for m in merged]
