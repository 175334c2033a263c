"""Same-dataset training data with in-context examples in the queries (bge-en-icl style)."""
from __future__ import annotations

import random
from typing import Any, Dict, List, Optional, Sequence, Tuple

from transformers import PreTrainedTokenizerBase

from FlagEmbedding.abc.finetune.embedder import AbsEmbedderSameDatasetTrainDataset
from FlagEmbedding.abc.finetune.embedder.dataset import (
    SYMMETRIC_QUERY_STYLE_TYPES,
    SameDatasetPart,
    same_dataset_group_size,
)
from FlagEmbedding.finetune.embedder.decoder_only.icl.arguments import DecoderOnlyEmbedderICLDataArguments

#: Most in-context examples a query gets (the count is drawn uniformly from 0..MAX_EXAMPLES).
MAX_EXAMPLES = 5
#: Tokens kept free for the query itself when ``query_max_len`` is large (FlagEmbedding 1.4.2's constant).
QUERY_RESERVE = 512

Batch = Tuple[List[str], List[List[str]], Optional[List[List[float]]], bool]


def example_budget(query_max_len: int) -> int:
    """Token budget of a query's example prefix: ``query_max_len - 512`` for long queries (as in
    FlagEmbedding 1.4.2), half of ``query_max_len`` when that would leave less (FlagEmbedding 1.4.2's budget
    is <= 0 below 513 tokens)."""
    return query_max_len - min(QUERY_RESERVE, query_max_len // 2)


class DecoderOnlyEmbedderICLSameDatasetTrainDataset(AbsEmbedderSameDatasetTrainDataset):
    """Same-dataset batches whose queries carry up to five in-context examples from the same batch.

    Each query becomes ``examples + query`` (cut to fit ``query_max_len`` with BOS and suffix) followed by
    ``icl_suffix_str``, where ``examples`` joins ``example_query + icl_suffix_str + example_answer + "\\n\\n"``
    for examples drawn from the other rows of the batch (answer = the row's ``category`` for
    ``symmetric_clustering``, else its sampled positive). Examples are used only when
    ``retrieval_use_examples`` is set or the batch type is symmetric. ``symmetric_sts`` /
    ``symmetric_clustering`` passages are formatted like queries and end with ``icl_suffix_str`` too.
    """

    args: DecoderOnlyEmbedderICLDataArguments

    def __init__(self, args: DecoderOnlyEmbedderICLDataArguments, default_batch_size: int, seed: int,
                 tokenizer: PreTrainedTokenizerBase, process_index: int = 0, num_processes: int = 1):
        eos = tokenizer.eos_token or ""
        self.suffix_ids = self.token_ids(tokenizer, f"{args.icl_suffix_str}{eos}")
        self.prefix_ids = self.token_ids(tokenizer, tokenizer.bos_token) if tokenizer.bos_token else []
        super().__init__(args, default_batch_size, seed, tokenizer, process_index, num_processes)

    @staticmethod
    def token_ids(tokenizer: PreTrainedTokenizerBase, text: str, max_length: Optional[int] = None) -> List[int]:
        """Ids of ``text`` without special tokens (truncated when ``max_length`` is given)."""
        return tokenizer(text, add_special_tokens=False, truncation=max_length is not None,
                         max_length=max_length)["input_ids"]

    def cut(self, text: str, max_tokens: int) -> str:
        """``text`` cut to ``max_tokens`` tokens (decoded back to text)."""
        decoded = self.tokenizer.decode(self.token_ids(self.tokenizer, text, max(max_tokens, 0)))
        assert isinstance(decoded, str)  # one sequence of ids decodes to one string
        return decoded

    def symmetric_passage(self, row: Dict[str, Any], passage: str) -> str:
        """Query-style formatted passage, cut to leave room for the suffix, plus ``icl_suffix_str``."""
        text = self.format_query_style(row, passage)
        return self.cut(text, self.args.passage_max_len - 1 - len(self.suffix_ids)) + self.args.icl_suffix_str

    def with_examples(self, index: int, query: str, examples: Sequence[Tuple[str, str]],
                      rng: random.Random) -> str:
        """``query`` of batch row ``index`` with up to five examples from the other rows, cut, plus the suffix."""
        prefix = ""
        count = rng.choice(range(MAX_EXAMPLES + 1))
        if count > 0 and examples:
            chosen = rng.sample(range(len(examples)), min(count + 1, len(examples)))
            if index in chosen:
                chosen.remove(index)
            budget = example_budget(self.args.query_max_len)
            for example in chosen[:count]:
                candidate = prefix + self.args.icl_suffix_str.join(examples[example]) + "\n\n"
                if len(self.tokenizer(candidate)["input_ids"]) > budget:
                    break
                prefix = candidate
        room = self.args.query_max_len - len(self.prefix_ids) - len(self.suffix_ids)
        return self.cut(prefix + query, room) + self.args.icl_suffix_str

    def build_batch(self, batch: Sequence[Dict[str, Any]], part: SameDatasetPart, rng: random.Random) -> Batch:
        """Format one batch: queries with examples and suffix, passages by type, teacher scores if complete."""
        kind = self.check_same_type(batch, part)
        group_size = same_dataset_group_size(batch[0], self.args.train_group_size)
        use_examples = self.args.retrieval_use_examples or "symmetric" in (kind or "")
        queries, groups, scores, examples = [], [], [], []
        for row in batch:
            query = self.format_query_style(row, row["query"])
            passages, row_scores = self.sample_passages(row, group_size, rng)
            if kind in SYMMETRIC_QUERY_STYLE_TYPES:
                groups.append([self.symmetric_passage(row, p) for p in passages])
            else:
                groups.append([self.format_passage(p) for p in passages])
            scores.append(row_scores)
            queries.append(query)
            if use_examples:
                answer = row.get("category") if kind == "symmetric_clustering" else None
                examples.append((self.cut(query, self.args.example_query_max_len),
                                 self.cut(answer if answer is not None else passages[0],
                                          self.args.example_passage_max_len)))
        queries = [self.with_examples(i, query, examples, rng) for i, query in enumerate(queries)]
        complete = [s for s in scores if s is not None]
        teacher = complete if len(complete) == len(scores) else None
        return queries, groups, teacher, part.no_in_batch_neg
