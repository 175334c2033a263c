"""``--gradient_cache``: the cached contrastive loss equals the uncached one (loss and every parameter gradient)
for every embedder kind, with dropout on, and composes with distillation, MRL, no-in-batch batches, M3's heads
and self-distillation, cross-device negatives (2 gloo processes) and the Trainer (gradient accumulation)."""
from __future__ import annotations

import copy
import functools
import sys

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from FlagEmbedding.finetune.common import gradient_cache
from FlagEmbedding.finetune.common.cli import parse_args
from FlagEmbedding.finetune.common.gradient_cache import gradient_cache_step, split_features
from FlagEmbedding.finetune.embedder.decoder_only.base import BiDecoderOnlyEmbedderModel
from FlagEmbedding.finetune.embedder.decoder_only.icl import BiDecoderOnlyEmbedderICLModel
from FlagEmbedding.finetune.embedder.encoder_only.base import (
    BiEncoderOnlyEmbedderModel,
    EncoderOnlyEmbedderDataArguments,
    EncoderOnlyEmbedderModelArguments,
    EncoderOnlyEmbedderRunner,
    EncoderOnlyEmbedderTrainingArguments,
)
from FlagEmbedding.finetune.embedder.encoder_only.m3 import EncoderOnlyEmbedderM3Model, EncoderOnlyEmbedderM3Runner
from FlagEmbedding.utils.errors import InputError
from tests.finetune import gradient_cache_worker as worker
from tests.helpers.files import write_jsonl
from tests.helpers.training import PASSAGES, build_runner, record, run_subprocess

CLASSES = (EncoderOnlyEmbedderModelArguments, EncoderOnlyEmbedderDataArguments, EncoderOnlyEmbedderTrainingArguments)
QUERIES = ["what is a panda?", "capital of France", "how are you", "dense vectors for retrieval"]
GROUP, CHUNK = 3, 3  # 4 queries -> chunks of 3 + 1; 12 passages -> 4 chunks
TEACHER = [float(x) for x in torch.linspace(-1.0, 2.0, len(QUERIES) * GROUP)]
ICL_PREFIX = "<instruct> Given a query, retrieve passages. <query> what is a panda? <response> a bear. "


def batch(tokenizer, queries=QUERIES, **extra):
    passages = [PASSAGES[(i + k) % len(PASSAGES)] for i in range(len(queries)) for k in range(GROUP)]
    tokenize = functools.partial(tokenizer, padding=True, truncation=True, max_length=48, return_tensors="pt")
    return {"queries": dict(tokenize(queries)), "passages": dict(tokenize(passages)), **extra}


def uncached(model, inputs, seed, sub_batch_size=CHUNK):
    """Loss and gradients of the ordinary step that encodes in the same chunks (so dropout draws alike)."""
    model.sub_batch_size = sub_batch_size
    torch.manual_seed(seed)
    loss = model(**inputs).loss
    loss.backward()
    return loss.item(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def cached(model, inputs, seed, chunk=CHUNK):
    torch.manual_seed(seed)
    loss = gradient_cache_step(model, inputs, chunk)
    return loss.item(), {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}


def assert_same(reference, got, atol=1e-5):
    (ref_loss, ref_grads), (loss, grads) = reference, got
    assert loss == pytest.approx(ref_loss, abs=atol)
    assert set(grads) == set(ref_grads) and len(grads) > 10
    for name, grad in ref_grads.items():
        assert torch.allclose(grads[name], grad, atol=atol, rtol=1e-4), name


def compare(model, inputs, seed=3, **kwargs):
    model.train()
    twin = copy.deepcopy(model)
    reference = uncached(model, inputs, seed)
    after_reference = torch.get_rng_state()
    got = cached(twin, inputs, seed, **kwargs)
    assert torch.equal(torch.get_rng_state(), after_reference)  # the replay leaves the random stream alone
    assert_same(reference, got)
    return reference


@pytest.fixture(scope="module")
def bert(tiny_bert):
    return AutoTokenizer.from_pretrained(tiny_bert), tiny_bert


def encoder(bert, **options):
    tokenizer, path = bert
    torch.manual_seed(0)
    options = {"temperature": 0.05, "normalize_embeddings": True, **options}
    return BiEncoderOnlyEmbedderModel(AutoModel.from_pretrained(path), tokenizer=tokenizer, **options)


@pytest.mark.parametrize("options,extra", [
    ({}, {}),
    ({"kd_loss_type": "kl_div", "use_mrl": True, "mrl_dims": [8, 16, 32]}, {"teacher_scores": TEACHER}),
    ({"kd_loss_type": "m3_kd_loss", "sentence_pooling_method": "mean"},
     {"teacher_scores": TEACHER, "no_in_batch_neg_flag": True}),
], ids=["in_batch", "kl_div_mrl", "no_in_batch_m3_kd"])
def test_encoder_only_matches_the_uncached_step(bert, options, extra):
    model = encoder(bert, **options)
    compare(model, batch(bert[0], **extra))


def test_without_dropout_it_matches_the_whole_batch_step(tiny_bert, bert):
    tokenizer = bert[0]
    torch.manual_seed(0)
    backbone = AutoModel.from_pretrained(tiny_bert, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    model = BiEncoderOnlyEmbedderModel(backbone, tokenizer=tokenizer, temperature=0.05, normalize_embeddings=True)
    model.train()
    inputs = batch(tokenizer, teacher_scores=TEACHER)
    reference = uncached(copy.deepcopy(model), inputs, 0, sub_batch_size=-1)
    assert_same(reference, cached(model, inputs, 0, chunk=5))


def test_replaying_without_the_random_state_changes_the_gradients(bert, monkeypatch):
    """The equality above depends on the dropout masks matching: without restoring the random state the
    gradients differ (the loss, computed in the first pass, does not)."""
    model = encoder(bert)
    model.train()
    inputs = batch(bert[0])
    reference = uncached(copy.deepcopy(model), inputs, 3)
    monkeypatch.setattr(gradient_cache.RandContext, "__enter__", lambda self: None)
    monkeypatch.setattr(gradient_cache.RandContext, "__exit__", lambda self, *exc: None)
    loss, grads = cached(model, inputs, 3)
    assert loss == pytest.approx(reference[0], abs=1e-6)
    assert max((grads[name] - grad).abs().max().item() for name, grad in reference[1].items()) > 1e-3


@pytest.mark.parametrize("model_class,prefix", [(BiDecoderOnlyEmbedderModel, ""),
                                                (BiDecoderOnlyEmbedderICLModel, ICL_PREFIX)],
                         ids=["decoder_only", "icl"])
def test_decoder_only_kinds_match_the_uncached_step(tiny_decoder, model_class, prefix):
    tokenizer = AutoTokenizer.from_pretrained(tiny_decoder)
    torch.manual_seed(0)
    backbone = AutoModel.from_pretrained(tiny_decoder, attention_dropout=0.2)
    model = model_class(backbone, tokenizer=tokenizer, temperature=0.05, normalize_embeddings=True,
                        use_mrl=True, mrl_dims=[16, 32])
    compare(model, batch(tokenizer, queries=[prefix + q for q in QUERIES], teacher_scores=TEACHER))


@pytest.mark.parametrize("heads", [["dense", "sparse", "colbert"], ["dense", "colbert"]])
def test_m3_unified_with_self_distillation_matches_the_uncached_step(tiny_xlmr_m3, heads):
    tokenizer = AutoTokenizer.from_pretrained(tiny_xlmr_m3)
    torch.manual_seed(0)
    model = EncoderOnlyEmbedderM3Model(EncoderOnlyEmbedderM3Runner.get_model(tiny_xlmr_m3), tokenizer=tokenizer,
                                       temperature=0.05, normalize_embeddings=True, unified_finetuning=True,
                                       use_self_distill=True, unified_heads=heads)
    compare(model, batch(tokenizer, teacher_scores=TEACHER))
    assert model.step == 1  # one training forward counted


def test_split_features_keeps_row_order_across_sub_batches():
    features = {"input_ids": torch.arange(10).view(5, 2), "attention_mask": torch.ones(5, 2, dtype=torch.long)}
    chunks = split_features([features, {k: v[:3] for k, v in features.items()}], 2)
    assert [c["input_ids"][:, 0].tolist() for c in chunks] == [[0, 2], [4, 6], [8], [0, 2], [4]]
    assert split_features(None, 2) == []
    with pytest.raises(InputError, match="gradient_cache_chunk_size must be a positive number of rows, got 0"):
        split_features(features, 0)


def test_two_gloo_processes_with_cross_device_negatives(tiny_bert, tmp_path):
    """DDP over 2 processes with ``negatives_cross_device``: the cached step leaves the same (averaged)
    gradients and losses as the uncached DDP step on every rank."""
    run_subprocess([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
                    worker.__file__, tiny_bert, str(tmp_path)], timeout=300)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    for result in ranks:
        for kd in worker.VARIANTS:
            assert result[kd]["cached_loss"] == pytest.approx(result[kd]["loss"], abs=1e-5)
            assert set(result[kd]["cached"]) == set(result[kd]["grads"])
            for name, grad in result[kd]["grads"].items():
                assert torch.allclose(result[kd]["cached"][name], grad, atol=1e-5, rtol=1e-4), (kd, name)
    for name, grad in ranks[0]["none"]["grads"].items():  # DDP averaged: the ranks agree
        assert torch.allclose(ranks[1]["none"]["cached"][name], grad, atol=1e-5, rtol=1e-4)


def train_data(tmp_path):
    return write_jsonl(str(tmp_path / "train.jsonl"), [record(i, num_neg=3, scores=True) for i in range(8)])


def test_trainer_steps_with_accumulation_equal_the_uncached_ones(tiny_bert, tmp_path):
    """Two optimizer steps of 2 accumulated batches with kl_div distillation: the same logged losses and the same
    trained weights as the uncached Trainer encoding in the same chunks (the collator pads each chunk on its own
    in both runs: ``--sub_batch_size 2`` there, the cache's chunks here)."""
    build = functools.partial(build_runner, EncoderOnlyEmbedderRunner, CLASSES, tiny_bert, train_data(tmp_path),
                              flags=("--max_steps", "2", "--gradient_accumulation_steps", "2", "--logging_steps",
                                     "1", "--save_strategy", "no", "--seed", "5", "--knowledge_distillation",
                                     "True", "--train_group_size", "3", "--temperature", "0.05"))
    plain = build(tmp_path / "plain", "--sub_batch_size", "2")
    plain.run()
    cached_run = build(tmp_path / "cached", "--gradient_cache", "True", "--gradient_cache_chunk_size", "2")
    cached_run.run()
    losses = [[entry["loss"] for entry in run.trainer.state.log_history if "loss" in entry]
              for run in (plain, cached_run)]
    assert len(losses[0]) == 2 and losses[1] == pytest.approx(losses[0], abs=1e-5)
    trained = [dict(run.model.named_parameters()) for run in (plain, cached_run)]
    for name, param in trained[0].items():
        assert torch.allclose(trained[1][name], param, atol=1e-5), name


def test_command_line_trains_with_the_cache(tiny_bert, tmp_path):
    output = tmp_path / "out"
    run_subprocess([sys.executable, "-m", "FlagEmbedding.finetune.embedder.encoder_only.base",
                    "--model_name_or_path", tiny_bert, "--train_data", train_data(tmp_path), "--output_dir",
                    str(output), "--train_group_size", "3", "--per_device_train_batch_size", "4", "--max_steps", "2",
                    "--gradient_cache", "True", "--gradient_cache_chunk_size", "2", "--report_to", "none",
                    "--save_strategy", "no", "--use_cpu", "True"])
    assert (output / "model.safetensors").is_file()


def test_chunk_size_must_be_positive(tiny_bert, tmp_path):
    with pytest.raises(InputError) as error:
        parse_args(*CLASSES, ["--model_name_or_path", tiny_bert, "--output_dir", str(tmp_path),
                              "--gradient_cache", "True", "--gradient_cache_chunk_size", "0"])
    assert str(error.value) == ("--gradient_cache_chunk_size must be a positive number of texts, got 0; pass e.g. "
                                "--gradient_cache_chunk_size 16.")
    args = parse_args(*CLASSES, ["--model_name_or_path", tiny_bert, "--output_dir", str(tmp_path),
                                 "--gradient_cache", "True", "--gradient_cache_chunk_size", "16"])[2]
    assert args.gradient_cache is True and args.gradient_cache_chunk_size == 16


def test_chunk_size_error_is_one_line_on_the_command_line(tiny_xlmr_m3, tmp_path, capsys):
    """The M3 entry point's body (``run_cli`` over ``run_main``): one ``error:`` line, exit status 1."""
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3TrainingArguments,
    )
    from FlagEmbedding.utils.cli import run_cli

    with pytest.raises(SystemExit) as exit_info:
        run_cli(run_main, EncoderOnlyEmbedderM3Runner, EncoderOnlyEmbedderM3ModelArguments,
                EncoderOnlyEmbedderM3DataArguments, EncoderOnlyEmbedderM3TrainingArguments,
                argv=["--model_name_or_path", tiny_xlmr_m3, "--output_dir", str(tmp_path), "--gradient_cache",
                      "True", "--gradient_cache_chunk_size", "-1"])
    assert exit_info.value.code == 1
    assert capsys.readouterr().err.splitlines() == [
        "error: --gradient_cache_chunk_size must be a positive number of texts, got -1; pass e.g. "
        "--gradient_cache_chunk_size 16."]
