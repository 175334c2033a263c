"""FlagAutoModel: registry lookup, explicit class override, errors."""
import logging
import shutil

import numpy as np
import pytest

from FlagEmbedding import (BGEM3FlagModel, EmbedderModelClass, FlagAutoModel, FlagICLModel, FlagLLMModel, FlagModel,
                           FlagPseudoMoEModel)
from FlagEmbedding.inference.embedder.model_mapping import (AUTO_EMBEDDER_MAPPING, EMBEDDER_CLASS_MAPPING,
                                                             EmbedderConfig, PoolingMethod,
                                                             support_model_list, support_native_bge_model_list)


def test_constructor_is_forbidden():
    with pytest.raises(EnvironmentError, match=r"FlagAutoModel.from_finetuned\(model_name_or_path\)"):
        FlagAutoModel()


def test_registry_contents():
    assert len(support_native_bge_model_list()) == 17
    assert support_native_bge_model_list()[:5] == [
        "bge-reasoner-embed-qwen3-8b-0923", "bge-code-v1", "bge-en-icl", "bge-multilingual-gemma2", "bge-m3"]
    assert support_model_list() == list(AUTO_EMBEDDER_MAPPING)
    assert len(support_model_list()) == 47
    assert AUTO_EMBEDDER_MAPPING["bge-code-v1"] == EmbedderConfig(FlagLLMModel, PoolingMethod.LAST_TOKEN, True,
                                                                  "<instruct>{}\n<query>{}")
    assert AUTO_EMBEDDER_MAPPING["Qwen3-Embedding-4B"].query_instruction_format == "Instruct: {}\nQuery:{}"
    assert AUTO_EMBEDDER_MAPPING["e5-base-v2"].pooling_method is PoolingMethod.MEAN
    assert AUTO_EMBEDDER_MAPPING["gte-base-en-v1.5"].trust_remote_code is True
    assert EMBEDDER_CLASS_MAPPING[EmbedderModelClass("decoder-only-pseudo_moe")] is FlagPseudoMoEModel
    assert EMBEDDER_CLASS_MAPPING[EmbedderModelClass.DECODER_ONLY_ICL] is FlagICLModel


def test_registry_resolves_folder_names(tiny_bert, tiny_xlmr_m3, tmp_path):
    model = FlagAutoModel.from_finetuned(tiny_bert, devices="cpu")
    assert type(model) is FlagModel and model.pooling_method == "cls" and model.trust_remote_code is False
    assert type(FlagAutoModel.from_finetuned(tiny_xlmr_m3 + "/", devices="cpu")) is BGEM3FlagModel
    e5 = tmp_path / "e5-base-v2" / "checkpoint-100"
    shutil.copytree(tiny_bert, e5)
    mean = FlagAutoModel.from_finetuned(str(e5), devices="cpu")
    assert mean.pooling_method == "mean"
    np.testing.assert_allclose(mean.encode(["a b"]), FlagModel(str(e5), pooling_method="mean",
                                                               devices="cpu").encode(["a b"]), atol=1e-6)


def test_unknown_name_and_explicit_class(tiny_bert, tmp_path, caplog):
    custom = tmp_path / "my-own-model"
    shutil.copytree(tiny_bert, custom)
    with pytest.raises(ValueError, match=r"^Model name 'my-own-model' not found in the model mapping\. .*"
                                         r"You can also directly specify the corresponding `model_class` to "
                                         r"instantiate the model \(on a command line: --embedder_model_class\); "
                                         r"valid values: encoder-only-base, encoder-only-m3, decoder-only-base, "
                                         r"decoder-only-icl, decoder-only-pseudo_moe\.$"):
        FlagAutoModel.from_finetuned(str(custom))
    with caplog.at_level(logging.WARNING):
        model = FlagAutoModel.from_finetuned(str(custom), model_class="encoder-only-base", devices="cpu")
    assert type(model) is FlagModel and model.pooling_method == "cls"
    assert (f"`pooling_method` is not specified and {custom} declares none; using the default 'cls' (pass "
            "pooling_method / --pooling_method if the model was trained with another).") in caplog.text
    assert "`trust_remote_code` is not specified, set to default value 'False'." in caplog.text
    with pytest.raises(ValueError, match=r"^model_class 'bogus' is not valid \(on a command line: "
                                         r"--embedder_model_class\); valid values: encoder-only-base, "
                                         r"encoder-only-m3, decoder-only-base, decoder-only-icl, "
                                         r"decoder-only-pseudo_moe\.$"):
        FlagAutoModel.from_finetuned(str(custom), model_class="bogus")
    overridden = FlagAutoModel.from_finetuned(tiny_bert, model_class=EmbedderModelClass.ENCODER_ONLY_BASE,
                                              pooling_method="mean", devices="cpu", truncate_dim=4)
    assert overridden.pooling_method == "mean" and overridden.encode("x").shape == (4,)


def test_only_caller_set_arguments_are_forwarded(tiny_decoder):
    model = FlagAutoModel.from_finetuned(tiny_decoder, devices="cpu", query_instruction_for_retrieval="Find it.")
    assert type(model) is FlagLLMModel
    assert model.query_instruction_format == "<instruct>{}\n<query>{}"  # from the registry
    assert model.pooling_method == "last_token"
    pseudo = FlagAutoModel.from_finetuned(tiny_decoder, model_class="decoder-only-pseudo_moe", devices="cpu")
    assert pseudo.use_bf16 is True and pseudo.use_fp16 is False  # the class defaults survive


def test_a_sentence_transformers_folder_uses_the_pooling_it_declares(minilm, caplog):
    """The packaged all-MiniLM-L6-v2 folder (named ``model``, not in the registry) declares mean pooling."""
    from sentence_transformers import SentenceTransformer

    texts = ["A man is eating food.", "A man is riding a horse.", "Someone is eating a piece of bread."]
    with caplog.at_level(logging.INFO, logger="FlagEmbedding.inference.auto_embedder"):
        auto = FlagAutoModel.from_finetuned(minilm, devices="cpu")
        with_class = FlagAutoModel.from_finetuned(minilm, model_class="encoder-only-base", devices="cpu")
    assert auto.pooling_method == with_class.pooling_method == "mean"
    assert f"Using pooling_method 'mean' declared in {minilm}/1_Pooling/config.json." in caplog.text
    reference = SentenceTransformer(minilm, device="cpu").encode(texts, normalize_embeddings=True)
    for model in (auto, with_class):
        assert model.encode(texts) == pytest.approx(reference, abs=1e-5)
