"""The embedder and reranker described by the ``embedder_*`` / ``reranker_*`` model arguments.

Shared by the evaluation runners and the data scripts (:mod:`~FlagEmbedding.finetune.data_scripts.hn_mine`,
:mod:`~FlagEmbedding.finetune.data_scripts.add_reranker_score`), whose model arguments use the same names.
"""
from __future__ import annotations

import os
from typing import Any, Dict

from FlagEmbedding.retrieval import distributed
from FlagEmbedding.utils.files import read_json_file

#: embedder options only some argument sets have (``None`` / absent: the class default applies)
_OPTIONAL_EMBEDDER_OPTIONS = {"use_bf16": "use_bf16", "truncate_dim": "truncate_dim",
                              "domain_for_pseudo_moe": "domain_for_pseudo_moe"}


def backend_options(model_args: Any, model: str) -> Dict[str, Any]:
    """``backend``, ``quantize`` and ``onnx_cache_dir`` of ``model`` (``embedder`` / ``reranker``) from
    ``--{model}_backend`` / ``--{model}_quantize`` / ``--onnx_cache_dir``; nothing for the torch default, so
    torch runs keep their corpus-cache and result fingerprints."""
    backend = getattr(model_args, f"{model}_backend", "torch")
    if backend == "torch":
        return {}
    quantize = getattr(model_args, f"{model}_quantize", "none")
    return {"backend": backend, "quantize": None if quantize == "none" else quantize,
            "onnx_cache_dir": getattr(model_args, "onnx_cache_dir", None)}


def load_embedder(model_args: Any) -> Any:
    """``FlagAutoModel.from_finetuned`` over ``model_args.embedder_name_or_path`` and the matching options
    (``embedder_model_class``, pooling, precision, instructions, in-context examples — a JSON file path is read —,
    devices (this rank's under torchrun), lengths, ``embedder_batch_size``, and where present ``use_bf16``, ``truncate_dim``,
    ``domain_for_pseudo_moe`` and the runtime of :func:`backend_options`)."""
    from FlagEmbedding.inference.auto_embedder import FlagAutoModel

    examples = getattr(model_args, "examples_for_task", None)
    if isinstance(examples, str) and os.path.isfile(examples):
        examples = read_json_file(examples, "examples file")
    options: Dict[str, Any] = {option: getattr(model_args, name) for name, option in _OPTIONAL_EMBEDDER_OPTIONS.items()
                               if getattr(model_args, name, None) is not None}
    if examples is not None:
        options.update(examples_for_task=examples, examples_instruction_format=model_args.examples_instruction_format)
    options.update(backend_options(model_args, "embedder"))
    return FlagAutoModel.from_finetuned(
        model_args.embedder_name_or_path,
        model_class=model_args.embedder_model_class,
        normalize_embeddings=model_args.normalize_embeddings,
        pooling_method=model_args.pooling_method,
        use_fp16=model_args.use_fp16,
        query_instruction_for_retrieval=model_args.query_instruction_for_retrieval,
        query_instruction_format=model_args.query_instruction_format_for_retrieval,
        devices=distributed.local_device(model_args.devices),
        trust_remote_code=model_args.trust_remote_code,
        cache_dir=model_args.cache_dir,
        batch_size=model_args.embedder_batch_size,
        query_max_length=model_args.embedder_query_max_length,
        passage_max_length=model_args.embedder_passage_max_length,
        **options,
    )


def load_reranker(model_args: Any) -> Any:
    """``FlagAutoReranker.from_finetuned`` over ``model_args.reranker_name_or_path`` and the matching options
    (``reranker_model_class``, ``reranker_peft_path``, precision, instructions, devices, lengths, batch size,
    ``normalize``, ``prompt``, ``cutoff_layers``, ``compress_ratio`` / ``compress_layers``, and the runtime of
    :func:`backend_options`)."""
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
        **backend_options(model_args, "reranker"),
    )
