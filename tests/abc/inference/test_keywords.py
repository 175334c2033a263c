"""Constructor keywords: a near miss of a declared option warns with a did-you-mean, ``device=`` is taken as
``devices=`` (both: an error), and only options that change the vectors enter the corpus-cache fingerprint."""
from __future__ import annotations

import logging
import warnings

import pytest

from FlagEmbedding import FlagModel
from FlagEmbedding.retrieval.embedding_cache import embedder_fingerprint


def test_a_near_miss_warns_with_the_declared_name_and_is_still_stored(tiny_bert):
    with pytest.warns(UserWarning, match=r"unknown keyword 'normalise_embeddings'; did you mean "
                                         r"'normalize_embeddings'\?") as record:
        model = FlagModel(tiny_bert, devices="cpu", use_fp16=False, normalise_embeddings=False)
    assert model.normalise_embeddings is False and model.normalize_embeddings is True
    assert record[0].filename == __file__  # points at the caller, not at the constructor chain


def test_an_unrelated_keyword_is_stored_without_a_warning(tiny_bert):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = FlagModel(tiny_bert, devices="cpu", use_fp16=False, custom_option=7)
    assert model.custom_option == 7


def test_device_is_taken_as_devices_with_a_warning(tiny_bert):
    with pytest.warns(FutureWarning, match=r"device= is taken as devices='cpu'; use devices="):
        model = FlagModel(tiny_bert, device="cpu", use_fp16=False)
    assert model.target_devices == ["cpu"]


def test_device_and_devices_together_are_an_error(tiny_bert):
    with pytest.raises(ValueError, match="either devices= or device="):
        FlagModel(tiny_bert, device="cpu", devices="cpu", use_fp16=False)


def _fingerprint(path, **options):
    return embedder_fingerprint(FlagModel(path, use_fp16=False, **{"devices": "cpu", **options}))


def test_a_default_fingerprint_is_what_it_was(tiny_bert):
    """The keys and settings of a default FlagModel, as every earlier version recorded them (existing corpus
    caches resume)."""
    fingerprint = _fingerprint(tiny_bert)
    assert set(fingerprint) == {"class", "model", "weights", "dtype", "passage_max_length", "normalize_embeddings",
                                "truncate_dim", "query_instruction_for_retrieval", "query_instruction_format",
                                "settings"}
    assert fingerprint["settings"] == {"pooling_method": "cls"}


@pytest.mark.parametrize("options", [{"batch_size": 3}, {"devices": ["cpu"]}, {"cache_dir": "elsewhere"},
                                     {"onnx_cache_dir": "elsewhere"}, {"query_max_length": 16},
                                     {"convert_to_numpy": False}, {"trust_remote_code": True}])
def test_runtime_options_leave_the_fingerprint_alone(tiny_bert, options):
    assert _fingerprint(tiny_bert, **options) == _fingerprint(tiny_bert)


@pytest.mark.parametrize("options", [{"query_instruction_for_retrieval": "Q: "}, {"normalize_embeddings": False},
                                     {"passage_max_length": 16}, {"pooling_method": "mean"}, {"truncate_dim": 8},
                                     {"passage_instruction_for_retrieval": "P: "}])
def test_options_that_change_the_vectors_change_the_fingerprint(tiny_bert, options):
    assert _fingerprint(tiny_bert, **options) != _fingerprint(tiny_bert)


def test_an_undeclared_keyword_enters_the_fingerprint(tiny_bert):
    # a 1.4.2-style subclass may read a keyword it never declares: a needless re-encode is safe, a stale cache not
    fingerprint = _fingerprint(tiny_bert, some_unrelated_flag=1)
    assert fingerprint != _fingerprint(tiny_bert) and fingerprint["settings"]["some_unrelated_flag"] == 1


def test_an_option_a_subclass_declares_enters_the_fingerprint(tiny_bert):
    class Scaled(FlagModel):
        def __init__(self, model_name_or_path, scale: float = 1.0, **kwargs):
            super().__init__(model_name_or_path, scale=scale, **kwargs)

    assert embedder_fingerprint(Scaled(tiny_bert, scale=2.0, devices="cpu", use_fp16=False))["settings"] == \
        {"pooling_method": "cls", "scale": 2.0}
