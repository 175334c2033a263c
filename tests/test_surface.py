"""Our public surface against the record of FlagEmbedding 1.4.2 (``../shared/spec/original-surface.json``).

``../shared/tools/surface.py`` dumps our surface and ``surface_diff.py`` lists every difference. Each one is
either fixed or listed below BY NAME with the reason it is kept; the compatibility guide
(docs/guides/compatibility.rst, "Differences from the original") says the same in prose. A new difference fails :func:`test_every_difference_is_listed`; a listed one that disappeared fails
:func:`test_every_listed_difference_still_exists` (so the list stays true), except those another change
may remove (``may_vanish``).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple, Union

import pytest

from FlagEmbedding.module_aliases import MODULE_ALIASES, NAME_ALIASES

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
TOOLS = SHARED / "tools"
RECORD = SHARED / "spec" / "original-surface.json"

pytestmark = pytest.mark.skipif(
    not ((TOOLS / "surface.py").is_file() and (TOOLS / "surface_diff.py").is_file() and RECORD.is_file()),
    reason="../shared/tools/surface*.py or ../shared/spec/original-surface.json is not available",
)


class Kept(NamedTuple):
    """A difference we keep: ``category`` of surface_diff (several joined by ``|`` when one reason covers
    them), ``match`` (regex searched in the finding, or a predicate), ``reason``; ``may_vanish`` when another
    change (not this test's) may remove it."""

    category: str
    match: Union[str, Callable[[str], bool]]
    reason: str
    may_vanish: bool = False

    @property
    def categories(self) -> List[str]:
        return self.category.split("|")

    def matches(self, category: str, finding: str) -> bool:
        if category not in self.categories:
            return False
        return self.match(finding) if callable(self.match) else re.search(self.match, finding) is not None


def _aliased(finding: str) -> bool:
    return finding.split()[0] in MODULE_ALIASES or finding.split()[0] in NAME_ALIASES


_TRANSFORMERS = "transformers 5's TrainingArguments (the library's own changes, not ours)"
_ADDED = "added by us; additive (every original name, parameter and position is still there, checked above)"

KEPT: List[Kept] = [
    # ---------------------------------------------------------------- modules and names
    Kept("module_files.missing", _aliased,
         "served by the alias table FlagEmbedding/module_aliases.py (imported in tests/test_module_aliases.py)"),
    Kept("names.submodule_attr_missing", _aliased,
         "old submodule paths are served by the alias table; the attribute appears once the path is imported"),
    Kept("module_files.missing", r"^FlagEmbedding\.utils\.(tokenizer_compat|transformers_compat)$",
         "the original's private shims for transformers 4.x; nothing public to serve on transformers 5"),
    Kept("module_files.extra", r".", _ADDED),
    Kept("names.extra", r"\.(lazy_getattr|TYPE_CHECKING|register_shadowed) ",
         "lazy-import machinery of the package __init__ files (imports stay cheap)"),
    Kept("names.extra", r"decoder_only\.(base\.DecoderOnlyEmbedder(SameDataset)?Collator|(base|layerwise)\."
                        r"DecoderOnlyReranker(LayerWise)?(Model|ModelArguments|Runner|Trainer)) |"
                        r"reranker\.model_mapping\.Qwen3LLMReranker ",
         "the decoder kinds' own names: the embedder's collators, exported beside its dataset, and unique names of "
         "the decoder reranker fine-tuning classes (1.4.2 gave base and layer-wise the same ones; the old names "
         "stay at their 1.4.2 paths as aliases); the Qwen3-Reranker class, imported by its registry"),
    Kept("names.extra", r"abc\.finetune\.embedder\.PooledEmbedderModel ",
         "the shared base of the encoder-only and decoder-only embedder training models (added; the original's "
         "decoder-only model derived from the encoder-only one)"),
    Kept("names.__all___extra", r"abc\.finetune\.embedder: \['PooledEmbedderModel'\]",
         "the shared base of the encoder-only and decoder-only embedder training models, exported"),
    Kept("names.__all___extra", r"decoder_only\.((base|icl): \['DecoderOnlyEmbedder|(base|layerwise): "
                                r"\['DecoderOnlyReranker)",
         "the decoder embedder's collators, the ICL same-dataset dataset and the unique decoder reranker "
         "fine-tuning names are exported (beside the 1.4.2 names)"),
    Kept("names.missing", r"decoder_only\.icl\.AbsEmbedderSameDatasetCollator ",
         "the ICL kind uses the decoder collator (DecoderOnlyEmbedderSameDatasetCollator); the abc class is "
         "FlagEmbedding.abc.finetune.embedder.AbsEmbedderSameDatasetCollator"),
    # ---------------------------------------------------------------- classes
    Kept("classes.member_extra|classes.enum_member_extra|registries.entry_extra", r".", _ADDED),
    Kept("classes.member_missing", r"\.TRANSFORMER_CLS \(nested_class\)",
         "model loading lives in the runners (their auto_model_class), not on the training model"),
    Kept("classes.member_kind_differs", r"EncoderOnlyEmbedderM3Model\.ensemble_score: function -> staticmethod",
         "M3 training internals: ensemble_score(scores) weights a dict of head scores"),
    Kept("classes.stub_not_compared", r"^evaluation\.air_bench\.AIRBenchEvalArgs:",
         "air_benchmark is a stand-in on one side; not comparable"),
    # ---------------------------------------------------------------- parameters
    Kept("params.extra_optional", r".", _ADDED),
    Kept("params.kind_differs[now keyword-only]", r"\.__init__ \(effective\): \d+ parameter",
         "inference constructors take options by keyword: a positional option raises TypeError (loud)"),
    Kept("params.kind_differs[now keyword-only]", r"\.compute_score_single_gpu.*: \d+ parameter",
         "after max_length the original's rerankers disagree on positions (prompt, cutoff_layers, normalize); "
         "keyword-only makes a positional call raise TypeError instead of meaning another option"),
    Kept("params.missing", r"\.compute_score_single_gpu .*`(prompt|cutoff_layers|compress_layer|compress_layers|"
                           r"compress_ratio)` .*\[swallowed by \*\*kwargs\]",
         "per-call reranker options are accepted by keyword (call_options) as before"),
    Kept("params.missing", r"Trainer\.__init__ \(effective\): `processing_class` .*\[swallowed by \*\*kwargs\]",
         "passed through **kwargs to transformers' Trainer, unchanged"),
    Kept("params.missing", r"EncoderOnlyEmbedderM3Model\.(compute_score|ensemble_score)",
         "M3 training internals: heads are scored by compute_{dense,sparse,colbert}_score (the original's) and "
         "combined by ensemble_score(scores)"),
    Kept("params.renamed", r"EncoderOnlyEmbedderM3Model\.ensemble_score",
         "M3 training internals (see ensemble_score above)"),
    Kept("params.renamed", r"start_multi_process_pool .*`process_target_func` -> `method_name`",
         "workers run a method of the model named by str; a worker function raises TypeError"),
    Kept("params.now_required", r"EncoderOnlyEmbedderM3ModelForInference\.forward: `text_input`",
         "the M3 inference wrapper needs its input (the original failed later on None)"),
    Kept("params.default_differs",
         r"compute_score_single_gpu: `(batch_size|max_length|normalize)` default .* -> None",
         "None = the instance value (the original's compute_score passed the instance values anyway)"),
    Kept("params.default_differs", r"from_finetuned: `use_(fp16|bf16)` default .* -> None",
         "None = the class default of the chosen model class (same values as before for every registry entry)"),
    Kept("params.default_differs", r"`(compress_layers|metrics|k_values)` default \[.*\] -> \(.*\)",
         "same values as an immutable tuple"),
    Kept("params.default_differs", r"`mrl_dims` default \[\] -> None", "None = no MRL dims (same as [])"),
    Kept("params.default_differs", r"EncoderOnlyEmbedderM3Model(ForInference)?\.__init__ \(effective\): "
                                   r"`temperature` default 1 -> 1\.0", "same value as a float"),
    Kept("params.default_differs", r"available_splits.*: `dataset_name` required in original, optional",
         "optional: None asks for the splits every dataset has"),
    # ---------------------------------------------------------------- argument dataclasses and CLI flags
    Kept("fields.type_differs[own]",
         r"\.(eval_name|corpus_embd_save_dir|cache_path|token|k_values|eval_metrics|cache_dir|compress_layers|cutoff_layers|"
         r"train_data|query_instruction_for_retrieval|query_instruction_for_rerank|passage_instruction_format|"
         r"config_name|tokenizer_name|q_reps|p_reps|loss|scores|pooling_method|model_cache_dir|examples_path|"
         r"from_peft|modules_to_save|raw_peft|additional_special_tokens|model_class|languages|tasks|task_types): ",
         "annotations only (Optional/List spelled out, None defaults typed); the parsed flags are the same"),
    Kept("fields.nargs_differs[own]", r"\.(k_values|eval_metrics|compress_layers): \+ -> None",
         "List[...] fields: HfArgumentParser gives them nargs='+' itself (same command line)"),
    # colbert_dim, suffix, attn_implementation: constructor options 1.4.2's evaluation CLIs had no flag for (class
    # defaults; see tests/test_option_routes.py); the long-text options (issue 22)
    Kept("fields.extra[own]", r"\.(corpus_embd_shard_size|unified_heads|colbert_dim|suffix|attn_implementation|"
                              r"(reranker_)?long_text_(strategy|stride)|mcls_interval) ", _ADDED),
    Kept("cli.flag_extra[own]", r"^__(corpus_embd_shard_size|unified_heads|colbert_dim|suffix|attn_implementation|"
                                r"(reranker_)?long_text_(strategy|stride)|mcls_interval) ", _ADDED),
    Kept("fields.extra[own]", r"\.(search_method|hybrid_methods|fusion|fusion_weights|rrf_k|m3_weights|"
                              r"embedding_precision|rescore_multiplier|colbert_precision|index_backend|index_url|"
                              r"index_collection|faiss_index_factory|compare_to|plot|eval_retrieval_dir|"
                              r"eval_retrieval_split|gradient_cache|gradient_cache_chunk_size) ",
         _ADDED + " (search methods, index precisions and backends of the evaluation CLIs, their --plot figure; "
                  "retrieval evaluation and the cached contrastive loss while fine-tuning)"),
    Kept("cli.flag_extra[own]", r"^__(search_method|hybrid_methods|fusion|fusion_weights|rrf_k|m3_weights|"
                                r"embedding_precision|rescore_multiplier|colbert_precision|index_backend|index_url|"
                                r"index_collection|faiss_index_factory|compare_to|plot|eval_retrieval_dir|"
                                r"eval_retrieval_split|gradient_cache|gradient_cache_chunk_size) ",
         _ADDED + " (search methods, index precisions and backends of the evaluation CLIs, their --plot figure; "
                  "retrieval evaluation and the cached contrastive loss while fine-tuning)"),
    Kept("fields.extra[own]", r"\.(embedder_backend|embedder_quantize|reranker_backend|reranker_quantize|"
                              r"onnx_cache_dir) ", _ADDED + " (ONNX Runtime backend of the evaluation CLIs)"),
    Kept("cli.flag_extra[own]", r"^__(embedder_backend|embedder_quantize|reranker_backend|reranker_quantize|"
                                r"onnx_cache_dir) ", _ADDED + " (ONNX Runtime backend of the evaluation CLIs)"),
    Kept("cli.flag_missing[transformers]", r".",
         "removed by transformers 5; their mapping or rejection is handled by the fine-tuning CLI change",
         may_vanish=True),
    Kept("fields.missing[transformers]", r"^TrainingArguments\.",
         "removed by transformers 5; their mapping or rejection is handled by the fine-tuning CLI change",
         may_vanish=True),
    Kept("fields.missing[transformers]", r"^DataCollatorForSeq2Seq\.(model|label_pad_token_id) ",
         "transformers' DataCollatorForSeq2Seq fields", may_vanish=True),
    *[Kept(category, r".", _TRANSFORMERS) for category in (
        "cli.flag_choices_differs[transformers]", "cli.flag_const_differs[transformers]",
        "cli.flag_default_differs[transformers]", "cli.flag_extra[transformers]",
        "cli.flag_nargs_differs[transformers]", "cli.flag_type_differs[transformers]",
        "fields.choices_differ[transformers]", "fields.default_differs[transformers]",
        "fields.extra[transformers]", "fields.nargs_differs[transformers]", "fields.type_differs[transformers]")],
    # ---------------------------------------------------------------- registries
    Kept("registries.entry_differs|registries.enum_differs|fields.choices_differ[own]|cli.flag_choices_differs[own]",
         r"AUTO_RERANKER_MAPPING\['(gte-multilingual-reranker-base|jina-reranker-v2-base-multilingual)'\]|"
         r"RerankerModelClass: .* -> \{.*'DECODER_ONLY_QWEN3': 'decoder-only-qwen3'|"
         r"reranker_model_class: \[.*\] -> \[.*'decoder-only-lightweight', 'decoder-only-qwen3'\]$",
         "both checkpoints ship custom modeling code: trust_remote_code=True is needed to load them; the reranker "
         "model classes (the enum, --reranker_model_class) gain decoder-only-qwen3 (added: every 1.4.2 value stays)"),
]


@pytest.fixture(scope="module")
def differences(tmp_path_factory) -> Dict[str, List[str]]:
    """``{category: [finding, ...]}`` of surface_diff between the record and our installed package."""
    folder = tmp_path_factory.mktemp("surface")
    ours, diff = folder / "ours.json", folder / "diff.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, str(TOOLS / "surface.py"), str(ours), "--probe", str(RECORD)],
                   check=True, capture_output=True, env=env, cwd=folder, timeout=600)
    subprocess.run([sys.executable, str(TOOLS / "surface_diff.py"), str(RECORD), str(ours), "--json", str(diff)],
                   check=True, capture_output=True, env=env, cwd=folder, timeout=600)
    with open(diff, encoding="utf-8") as f:
        return {category: list(findings) for category, findings in json.load(f).items()}


def test_every_difference_is_listed(differences):
    unlisted = [f"{category}: {finding}" for category, findings in differences.items() for finding in findings
                if not any(kept.matches(category, finding) for kept in KEPT)]
    assert unlisted == []


def test_every_listed_difference_still_exists(differences):
    stale = [f"{kept.category}: {kept.match if isinstance(kept.match, str) else kept.match.__name__}"
             for kept in KEPT if not kept.may_vanish
             and not any(kept.matches(category, finding) for category in kept.categories
                         for finding in differences.get(category, []))]
    assert stale == []


def test_breaking_categories_are_empty(differences):
    """What breaks a user of the original outright is fixed, not listed."""
    for category in ("modules.ours_import_error", "cli.ours_broken", "cli.entry_point_missing", "names.kind_differs",
                     "registries.entry_missing", "registries.enum_missing", "params.position_differs",
                     "params.extra_required", "params.varkw_dropped", "registries.mapping_missing", "classes.base_dropped",
                     "classes.base_dropped[abc.ABC]"):
        assert differences.get(category, []) == [], category
