"""Constructor options: each is a declared parameter stored by the class that declares it; ``self.kwargs`` keeps
FlagEmbedding 1.4.2's record of the keywords beyond the abstract signature; a keyword no constructor of the package
declares becomes an attribute, so user subclasses that pass their own options as keywords keep working."""
from __future__ import annotations

import numpy as np
import pytest

from FlagEmbedding import FlagModel, FlagPseudoMoEModel
from FlagEmbedding.retrieval.embedding_cache import embedder_fingerprint
from FlagEmbedding.abc.inference.base import package_options


def test_declared_options_are_attributes_and_the_record_is_kept(tiny_bert):
    model = FlagModel(tiny_bert, devices="cpu", use_fp16=False, pooling_method="mean",
                      passage_instruction_for_retrieval="P: ", custom_option=7)
    assert (model.pooling_method, model.trust_remote_code, model.cache_dir) == ("mean", False, None)
    assert (model.backend, model.quantize, model.onnx_cache_dir, model.use_bf16) == ("torch", None, None, False)
    assert model.custom_option == 7
    assert model.kwargs == {"pooling_method": "mean", "trust_remote_code": False, "cache_dir": None,
                            "passage_instruction_for_retrieval": "P: ", "custom_option": 7}


def test_package_options_cover_every_constructor_of_the_mro_and_nothing_else():
    names = package_options(FlagModel)
    assert {"pooling_method", "trust_remote_code", "cache_dir", "backend", "quantize", "onnx_cache_dir",
            "use_bf16", "normalize_embeddings", "truncate_dim"} <= names
    assert "custom_option" not in names and "kwargs" not in names
    assert "domain_for_pseudo_moe" not in names and "domain_for_pseudo_moe" in package_options(FlagPseudoMoEModel)


def test_passage_instruction_is_read_from_the_record(tiny_bert):
    """As in 1.4.2, ``encode_corpus`` reads the passage instruction from ``self.kwargs``, also after a change."""
    model = FlagModel(tiny_bert, devices="cpu", use_fp16=False, passage_instruction_for_retrieval="P: ",
                      passage_instruction_format="{}<{}>")
    np.testing.assert_allclose(model.encode_corpus(["a panda"]), model.encode(["P: <a panda>"]), atol=1e-6)
    model.kwargs["passage_instruction_for_retrieval"] = "Q: "
    np.testing.assert_allclose(model.encode_corpus(["a panda"]), model.encode(["Q: <a panda>"]), atol=1e-6)


class OptionSubclass(FlagModel):
    """A user subclass written against 1.4.2: it passes its own option on as a keyword and reads the attribute
    while the parent constructor loads the model."""

    def __init__(self, model_name_or_path: str, scale: float = 2.0, **kwargs):
        super().__init__(model_name_or_path, scale=scale, **kwargs)

    def load_model(self):
        self.scale_seen_while_loading = self.scale
        return super().load_model()

    def finish_embeddings(self, embeddings):
        return super().finish_embeddings(embeddings) * self.scale


def test_a_subclass_option_passed_as_keyword_is_an_attribute_before_loading(tiny_bert):
    plain = FlagModel(tiny_bert, devices="cpu", use_fp16=False)
    model = OptionSubclass(tiny_bert, scale=3.0, devices="cpu", use_fp16=False)
    assert model.scale == 3.0 and model.scale_seen_while_loading == 3.0 and model.kwargs["scale"] == 3.0
    np.testing.assert_allclose(model.encode(["a panda"]), 3.0 * plain.encode(["a panda"]), atol=1e-6)


def test_unknown_keywords_still_reach_a_subclass_that_reads_them(tiny_bert):
    """A subclass without a constructor of its own reads an undeclared keyword as an attribute (1.4.2 did)."""

    class ReadsExtra(FlagModel):
        def finish_embeddings(self, embeddings):
            return super().finish_embeddings(embeddings) + self.offset

    model = ReadsExtra(tiny_bert, devices="cpu", use_fp16=False, offset=1.0)
    plain = FlagModel(tiny_bert, devices="cpu", use_fp16=False)
    np.testing.assert_allclose(model.encode(["a panda"]), plain.encode(["a panda"]) + 1.0, atol=1e-6)


def test_pseudo_moe_domain_is_recorded_so_cached_vectors_are_keyed_by_it(tiny_decoder):
    general = FlagPseudoMoEModel(tiny_decoder, devices="cpu", trust_remote_code=False,
                                 domain_for_pseudo_moe="general")
    coding = FlagPseudoMoEModel(tiny_decoder, devices="cpu", trust_remote_code=False,
                                domain_for_pseudo_moe="coding")
    assert general.domain_for_pseudo_moe == "general" and general.kwargs["domain_for_pseudo_moe"] == "general"
    assert (general.use_fp16, general.use_bf16) == (False, True)
    assert embedder_fingerprint(general)["settings"]["domain_for_pseudo_moe"] == "general"
    assert embedder_fingerprint(general) != embedder_fingerprint(coding)


@pytest.mark.parametrize("value", [True, False])
def test_use_bf16_is_stored_once_by_the_base(tiny_bert, value):
    model = FlagModel(tiny_bert, devices="cpu", use_fp16=False, use_bf16=value)
    assert model.use_bf16 is value and "use_bf16" not in model.kwargs
