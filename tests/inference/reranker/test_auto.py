"""FlagAutoReranker, the registry, the import surface and the README/doc snippets on tiny local folders."""
from __future__ import annotations

import logging
import os
import shutil

import pytest

import FlagEmbedding
from FlagEmbedding import (AbsReranker, FlagAutoReranker, FlagLLMReranker, FlagReranker, LayerWiseFlagLLMReranker,
                           LightWeightFlagLLMReranker, RerankerModelClass)
from FlagEmbedding.inference.reranker.decoder_only import Qwen3LLMReranker, base, layerwise, lightweight
from FlagEmbedding.inference.reranker.encoder_only.base import BaseReranker
from FlagEmbedding.inference.reranker.model_mapping import (AUTO_RERANKER_MAPPING, RERANKER_CLASS_MAPPING,
                                                            RerankerConfig)


def test_import_surface_and_aliases():
    assert FlagReranker is BaseReranker
    assert FlagLLMReranker is base.BaseLLMReranker
    assert LayerWiseFlagLLMReranker is layerwise.LayerWiseLLMReranker
    assert LightWeightFlagLLMReranker is lightweight.LightweightLLMReranker
    for cls in (FlagReranker, FlagLLMReranker, LayerWiseFlagLLMReranker, LightWeightFlagLLMReranker):
        assert issubclass(cls, AbsReranker)
    from FlagEmbedding.inference import reranker

    assert reranker.RerankerModelClass is RerankerModelClass
    assert reranker.encoder_only.FlagReranker is FlagReranker
    assert reranker.decoder_only.LightWeightFlagLLMReranker is LightWeightFlagLLMReranker
    assert FlagEmbedding.abc.inference.AbsReranker is AbsReranker


def test_registry_contents():
    assert {e.name: e.value for e in RerankerModelClass} == {
        "ENCODER_ONLY_BASE": "encoder-only-base", "DECODER_ONLY_BASE": "decoder-only-base",
        "DECODER_ONLY_LAYERWISE": "decoder-only-layerwise", "DECODER_ONLY_LIGHTWEIGHT": "decoder-only-lightweight",
        "DECODER_ONLY_QWEN3": "decoder-only-qwen3"}
    assert list(RERANKER_CLASS_MAPPING.values()) == [FlagReranker, FlagLLMReranker, LayerWiseFlagLLMReranker,
                                                     LightWeightFlagLLMReranker, Qwen3LLMReranker]
    expected = {
        "bge-reranker-base": FlagReranker, "bge-reranker-large": FlagReranker, "bge-reranker-v2-m3": FlagReranker,
        "bge-reranker-v2-gemma": FlagLLMReranker, "bge-reranker-v2-minicpm-layerwise": LayerWiseFlagLLMReranker,
        "bge-reranker-v2.5-gemma2-lightweight": LightWeightFlagLLMReranker,
        "jina-reranker-v2-base-multilingual": FlagReranker, "gte-multilingual-reranker-base": FlagReranker,
        "bce-reranker-base_v1": FlagReranker, "jina-reranker-v1-turbo-en": FlagReranker,
        "Qwen3-Reranker-0.6B": Qwen3LLMReranker, "Qwen3-Reranker-4B": Qwen3LLMReranker,
        "Qwen3-Reranker-8B": Qwen3LLMReranker,
    }
    assert list(AUTO_RERANKER_MAPPING) == list(expected)
    for name, cls in expected.items():
        assert AUTO_RERANKER_MAPPING[name].model_class is cls
    remote = {name for name, config in AUTO_RERANKER_MAPPING.items() if config.trust_remote_code}
    assert remote == {"jina-reranker-v2-base-multilingual", "gte-multilingual-reranker-base"}
    assert RerankerConfig(FlagReranker).trust_remote_code is False


def test_constructor_is_disabled():
    with pytest.raises(EnvironmentError, match=r"FlagAutoReranker.from_finetuned\(model_name_or_path\)"):
        FlagAutoReranker()


def test_from_finetuned_resolves_folder_names(xlmr_reranker_dir, llm_reranker_dir, minicpm_dir,
                                              gemma2_lightweight_dir, pairs, tmp_path):
    for folder, cls in [(xlmr_reranker_dir, FlagReranker), (llm_reranker_dir, FlagLLMReranker),
                        (minicpm_dir, LayerWiseFlagLLMReranker), (gemma2_lightweight_dir, LightWeightFlagLLMReranker)]:
        reranker = FlagAutoReranker.from_finetuned(folder + "/", devices="cpu", use_fp16=True)
        assert type(reranker) is cls and reranker.use_fp16 is True and reranker.trust_remote_code is False
    checkpoint = tmp_path / "bge-reranker-v2-m3" / "checkpoint-20"
    shutil.copytree(xlmr_reranker_dir, checkpoint)
    reranker = FlagAutoReranker.from_finetuned(str(checkpoint), devices="cpu", normalize=True)
    assert type(reranker) is FlagReranker and reranker.normalize is True and reranker.use_fp16 is False
    direct = FlagReranker(xlmr_reranker_dir, devices="cpu", normalize=True)
    assert reranker.compute_score(pairs) == pytest.approx(direct.compute_score(pairs), abs=1e-6)


def test_from_finetuned_forwards_only_what_the_caller_set(minicpm_dir, xlmr_reranker_dir, tmp_path):
    # use_fp16 left unset: the layer-wise class's own rule applies (warning, fp16 on)
    with pytest.warns(UserWarning, match="cannot both be `False`"):
        reranker = FlagAutoReranker.from_finetuned(minicpm_dir, devices="cpu", cutoff_layers=[3])
    assert reranker.cutoff_layers == [3] and reranker.use_fp16 is True
    remote = tmp_path / "gte-multilingual-reranker-base"
    shutil.copytree(xlmr_reranker_dir, remote)
    assert FlagAutoReranker.from_finetuned(str(remote), devices="cpu").trust_remote_code is True
    assert FlagAutoReranker.from_finetuned(str(remote), devices="cpu", trust_remote_code=False).trust_remote_code \
        is False


def test_explicit_model_class(xlmr_reranker_dir, tmp_path, caplog):
    folder = tmp_path / "my-finetuned-reranker"
    shutil.copytree(xlmr_reranker_dir, folder)
    with pytest.raises(ValueError) as info:
        FlagAutoReranker.from_finetuned(str(folder))
    assert "Model name 'my-finetuned-reranker' not found in the model mapping." in str(info.value)
    assert str(info.value).endswith(
        "You can also directly specify the corresponding `model_class` to instantiate the model (on a command line: "
        "--reranker_model_class); valid values: encoder-only-base, decoder-only-base, decoder-only-layerwise, "
        "decoder-only-lightweight, decoder-only-qwen3.")
    with caplog.at_level(logging.WARNING):
        reranker = FlagAutoReranker.from_finetuned(str(folder), model_class="encoder-only-base", devices="cpu")
    assert "`trust_remote_code` is not specified, set to default value 'False'." in caplog.text
    assert type(reranker) is FlagReranker
    reranker = FlagAutoReranker.from_finetuned(str(folder), model_class=RerankerModelClass.ENCODER_ONLY_BASE,
                                               devices="cpu")
    assert type(reranker) is FlagReranker
    with pytest.raises(ValueError, match=r"^model_class 'nope' is not valid \(on a command line: "
                                         r"--reranker_model_class\); valid values: encoder-only-base, "
                                         r"decoder-only-base, decoder-only-layerwise, decoder-only-lightweight, "
                                         r"decoder-only-qwen3\.$"):
        FlagAutoReranker.from_finetuned(str(folder), model_class="nope")


# ---------------------------------------------------------------------------- documentation snippets


def test_readme_snippets(xlmr_reranker_dir, llm_reranker_dir, minicpm_dir, gemma2_lightweight_dir):
    models = {os.path.basename(p): p for p in (xlmr_reranker_dir, llm_reranker_dir, minicpm_dir,
                                               gemma2_lightweight_dir)}
    pairs = [['what is panda?', 'hi'], ['what is panda?', 'The giant panda is a bear species endemic to China.']]

    reranker = FlagReranker(models['bge-reranker-v2-m3'], use_fp16=True)
    score = reranker.compute_score(['query', 'passage'])
    assert isinstance(score, float)
    scores = reranker.compute_score(pairs)
    assert len(scores) == 2
    normalized = reranker.compute_score(pairs, normalize=True)
    assert all(0 < s < 1 for s in normalized)

    reranker = FlagLLMReranker(models['bge-reranker-v2-gemma'], use_fp16=True)
    assert len(reranker.compute_score(pairs)) == 2

    reranker = LayerWiseFlagLLMReranker(models['bge-reranker-v2-minicpm-layerwise'], use_fp16=True)
    scores = reranker.compute_score(pairs, cutoff_layers=[3])
    assert len(scores) == 2 and all(isinstance(s, float) for s in scores)

    reranker = LightWeightFlagLLMReranker(models['bge-reranker-v2.5-gemma2-lightweight'], use_fp16=True)
    scores = reranker.compute_score(pairs, cutoff_layers=[3], compress_ratio=2, compress_layers=[2])
    assert len(scores) == 2

    reranker = FlagAutoReranker.from_finetuned(models['bge-reranker-v2-m3'], use_fp16=True)
    assert reranker.compute_score(pairs) == pytest.approx(
        FlagReranker(models['bge-reranker-v2-m3']).compute_score(pairs), abs=1e-6)


def run_example(name, argv):
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "..", "examples", "inference", "reranker", name)
    spec = importlib.util.spec_from_file_location(name[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main(argv)


def test_examples_run_on_local_checkpoints(xlmr_reranker_dir, llm_reranker_dir, minicpm_dir, gemma2_lightweight_dir):
    cpu = ["--devices", "cpu"]
    scores = run_example("flag_reranker.py", [xlmr_reranker_dir, "--normalize"] + cpu)
    assert len(scores) == 2 and all(0 < s < 1 for s in scores)
    assert len(run_example("flag_llm_reranker.py", [llm_reranker_dir] + cpu)) == 2
    layers = run_example("layerwise_llm_reranker.py", [minicpm_dir, "--cutoff_layers", "2", "4"] + cpu)
    assert len(layers) == 2 and len(layers[0]) == 2
    scores = run_example("lightweight_llm_reranker.py", [gemma2_lightweight_dir, "--cutoff_layers", "3",
                                                         "--compress_layers", "2"] + cpu)
    assert len(scores) == 2
    assert run_example("auto_reranker.py", [xlmr_reranker_dir] + cpu) == pytest.approx(
        run_example("flag_reranker.py", [xlmr_reranker_dir, "--normalize"] + cpu), abs=1e-6)
