"""LightWeightFlagLLMReranker: Gemma2's attention soft-cap by default; ``attn_implementation="sdpa"`` gives the
original's scores (its transformers ran Gemma2 through SDPA, which skips the cap)."""
import json
import shutil

import pytest

from FlagEmbedding import LightWeightFlagLLMReranker


def with_attention_cap(folder, target, cap):
    shutil.copytree(folder, target)
    config = json.loads((target / "config.json").read_text())
    config["attn_logit_softcapping"] = cap
    (target / "config.json").write_text(json.dumps(config))
    return str(target)


def test_sdpa_reproduces_the_uncapped_scores(gemma2_lightweight_dir, pairs, tmp_path):
    capped = with_attention_cap(gemma2_lightweight_dir, tmp_path / "capped", 0.001)  # a cap that bites
    uncapped = with_attention_cap(gemma2_lightweight_dir, tmp_path / "uncapped", None)
    options = dict(devices="cpu", use_bf16=False, use_fp16=True)
    default = LightWeightFlagLLMReranker(capped, **options)
    assert default.model.config._attn_implementation == "eager"
    sdpa = LightWeightFlagLLMReranker(capped, attn_implementation="sdpa", **options)
    assert sdpa.model.config._attn_implementation == "sdpa"
    reference = LightWeightFlagLLMReranker(uncapped, **options).compute_score(pairs)
    assert sdpa.compute_score(pairs) == pytest.approx(reference, abs=1e-6)
    assert max(abs(a - b) for a, b in zip(default.compute_score(pairs), reference)) > 1e-4
