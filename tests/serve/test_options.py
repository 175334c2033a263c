"""Model flags are derived from the constructors and the registry, not hand-listed."""
from __future__ import annotations

import inspect

from FlagEmbedding.inference.embedder.model_mapping import EMBEDDER_CLASS_MAPPING, EmbedderModelClass
from FlagEmbedding.inference.reranker.model_mapping import RERANKER_CLASS_MAPPING
from FlagEmbedding.serve.cli import build_parser
from FlagEmbedding.serve.options import SERVER_CONTROLLED, model_kwargs, registry_options


def flags() -> set:
    return {option for action in build_parser()._actions for option in action.option_strings}


def test_every_constructor_keyword_is_a_flag():
    available = flags()
    for cls in [*EMBEDDER_CLASS_MAPPING.values(), *RERANKER_CLASS_MAPPING.values()]:
        for base in (base for base in cls.__mro__
                     if base.__module__.startswith("FlagEmbedding") and "__init__" in vars(base)):
            for name, param in inspect.signature(base.__init__).parameters.items():
                if name in ("self", "model_name_or_path") or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
                    continue
                assert name in SERVER_CONTROLLED or {f"--{name}", f"--embedder_{name}", f"--reranker_{name}"} & available, \
                    f"{cls.__name__}.{name}"
    for name in ("--colbert_dim", "--cutoff_layers", "--compress_ratio", "--domain_for_pseudo_moe", "--peft_path",
                 "--embedder_model_class", "--reranker_model_class", "--embedder_devices", "--devices"):
        assert name in available
    assert "--convert_to_numpy" not in available and "--return_sparse" not in available


def test_a_new_constructor_option_becomes_a_flag(monkeypatch):
    base = EMBEDDER_CLASS_MAPPING[EmbedderModelClass.ENCODER_ONLY_BASE]

    class WithNewOption(base):
        def __init__(self, model_name_or_path: str, *, brand_new_knob: int = 3, **kwargs):
            super().__init__(model_name_or_path, **kwargs)

    monkeypatch.setitem(EMBEDDER_CLASS_MAPPING, EmbedderModelClass.ENCODER_ONLY_BASE, WithNewOption)
    args = build_parser().parse_args(["--embedder", "x", "--brand_new_knob", "7"])
    assert model_kwargs(args, registry_options(), "embedder") == {"brand_new_knob": 7}


def test_only_set_options_are_forwarded_and_prefixes_win():
    options = registry_options()
    args = build_parser().parse_args([
        "--embedder", "e", "--reranker", "r", "--use_fp16", "--batch_size", "8", "--reranker_batch_size", "4",
        "--devices", "cuda:0", "cuda:1", "--cutoff_layers", "28", "--normalize_embeddings", "false",
        "--reranker_model_class", "decoder-only-layerwise", "--examples_for_task", '[{"instruct": "i"}]',
    ])
    assert model_kwargs(args, options, "embedder") == {
        "use_fp16": True, "batch_size": 8, "devices": ["cuda:0", "cuda:1"], "normalize_embeddings": False,
        "examples_for_task": [{"instruct": "i"}]}
    assert model_kwargs(args, options, "reranker") == {
        "use_fp16": True, "batch_size": 4, "devices": ["cuda:0", "cuda:1"], "cutoff_layers": [28],
        "model_class": "decoder-only-layerwise"}
