"""The reranker described by the ``reranker_*`` model arguments.

Shared by the evaluation runners and the teacher-score data script
(:mod:`FlagEmbedding.finetune.data_scripts.add_reranker_score`), whose model arguments use the same names.
"""
from __future__ import annotations

from typing import Any


def load_reranker(model_args: Any) -> Any:
    """``FlagAutoReranker.from_finetuned`` over ``model_args.reranker_name_or_path`` and the matching options
    (``reranker_model_class``, ``reranker_peft_path``, precision, instructions, devices, lengths, batch size,
    ``normalize``, ``prompt``, ``cutoff_layers``, ``compress_ratio`` / ``compress_layers``)."""
    from FlagEmbedding.inference.auto_reranker import FlagAutoReranker

    return FlagAutoReranker.from_finetuned(
        model_args.reranker_name_or_path,
        model_class=model_args.reranker_model_class,
        peft_path=model_args.reranker_peft_path,
        use_fp16=model_args.use_fp16,
        use_bf16=model_args.use_bf16,
        query_instruction_for_rerank=model_args.query_instruction_for_rerank,
        query_instruction_format=model_args.query_instruction_format_for_rerank,
        passage_instruction_for_rerank=model_args.passage_instruction_for_rerank,
        passage_instruction_format=model_args.passage_instruction_format_for_rerank,
        cache_dir=model_args.cache_dir,
        trust_remote_code=model_args.trust_remote_code,
        devices=model_args.devices,
        batch_size=model_args.reranker_batch_size,
        query_max_length=model_args.reranker_query_max_length,
        max_length=model_args.reranker_max_length,
        normalize=model_args.normalize,
        prompt=model_args.prompt,
        cutoff_layers=model_args.cutoff_layers,
        compress_ratio=model_args.compress_ratio,
        compress_layers=model_args.compress_layers,
    )
