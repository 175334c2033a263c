"""BGE-M3 fine-tuning: losses against hand-computed references, the fixed defects, the documented command,
the round trip into BGEM3FlagModel / FlagAutoModel and an overfit check."""
from __future__ import annotations

import logging
import os
from typing import Dict, List

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from tests.finetune import m3_decoder_only_commands as C
from tests.finetune.m3_decoder_only_commands import one_torch_thread  # noqa: F401 - autouse fixture

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

QUERIES = ["what is a panda?", "capital of France", "quick fox"]
# G = 2 passages per query (positive first); B = 3 > G exercises FlagEmbedding 1.4.2's IndexError
PASSAGES = ["The giant panda is a bear species endemic to China.", "numbers 0 1 2",
            "Paris is the capital of France.", "Hi! Hello there, how are you doing today?",
            "The quick brown fox jumps over the lazy dog.", "Deep learning models embed text into dense vectors."]
TEMPERATURE = 0.05


@pytest.fixture(scope="module")
def m3_parts(tiny_xlmr_m3):
    from transformers import AutoTokenizer

    return tiny_xlmr_m3, AutoTokenizer.from_pretrained(tiny_xlmr_m3)


def build_model(path: str, tokenizer, **kwargs):
    """A training M3 model on the tiny checkpoint with dropout off (train-mode losses become deterministic)."""
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import EncoderOnlyEmbedderM3Model, EncoderOnlyEmbedderM3Runner

    options = dict(temperature=TEMPERATURE, normalize_embeddings=True, unified_finetuning=True)
    options.update(kwargs)
    model = EncoderOnlyEmbedderM3Model(EncoderOnlyEmbedderM3Runner.get_model(path), tokenizer=tokenizer, **options)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    return model.train()


def features(tokenizer, texts: List[str]) -> Dict[str, torch.Tensor]:
    return dict(tokenizer(texts, padding=True, return_tensors="pt"))


# ---------------------------------------------------------------------------------------------------- references
def reference_reps(model, tokenizer, texts: List[str]) -> Dict[str, torch.Tensor]:
    """Dense / sparse / ColBERT reps computed directly from the encoder states and the two head weights."""
    feats = features(tokenizer, texts)
    hidden = model.model.model(**feats).last_hidden_state
    mask = feats["attention_mask"]
    sparse_head, colbert_head = model.model.sparse_linear, model.model.colbert_linear
    weights = torch.relu(hidden @ sparse_head.weight.T + sparse_head.bias)[..., 0]
    unused = {tokenizer.cls_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id, tokenizer.unk_token_id}
    sparse = torch.zeros(len(texts), model.model.config.vocab_size)
    for row, ids in enumerate(feats["input_ids"].tolist()):
        for position, token in enumerate(ids):
            if token not in unused:
                sparse[row, token] = torch.maximum(sparse[row, token], weights[row, position])
    colbert = (hidden[:, 1:] @ colbert_head.weight.T + colbert_head.bias) * mask[:, 1:, None]
    return {"dense": F.normalize(hidden[:, 0], dim=-1), "sparse": sparse,
            "colbert": F.normalize(colbert, dim=-1), "mask": mask}


def reference_scores(q: Dict[str, torch.Tensor], p: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """All-pairs scores / temperature; ColBERT with explicit loops over query tokens."""
    colbert = torch.zeros(q["dense"].shape[0], p["dense"].shape[0])
    for i in range(colbert.shape[0]):
        tokens = int(q["mask"][i, 1:].sum())
        for j in range(colbert.shape[1]):
            dots = q["colbert"][i, :tokens] @ p["colbert"][j].T
            colbert[i, j] = dots.max(dim=1).values.sum() / tokens
    scores = {"dense": q["dense"] @ p["dense"].T, "sparse": q["sparse"] @ p["sparse"].T, "colbert": colbert}
    scores = {k: v / TEMPERATURE for k, v in scores.items()}
    scores["ensemble"] = scores["dense"] + 0.3 * scores["sparse"] + scores["colbert"]
    return scores


def ce(scores: torch.Tensor, targets: List[int]) -> torch.Tensor:
    return torch.stack([-torch.log_softmax(row, dim=0)[t] for row, t in zip(scores, targets)]).mean()


def soft_ce(teacher: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    return -(teacher * torch.log_softmax(scores, dim=-1)).sum(dim=-1).mean()


def local(scores: torch.Tensor, group: int) -> torch.Tensor:
    return torch.stack([scores[i, i * group:(i + 1) * group] for i in range(scores.shape[0])])


def unified_reference(s: Dict[str, torch.Tensor], targets: List[int], self_distill: bool) -> torch.Tensor:
    loss = (ce(s["dense"], targets) + ce(s["ensemble"], targets) + 0.1 * ce(s["sparse"], targets)
            + ce(s["colbert"], targets)) / 4
    if self_distill:
        teacher = torch.softmax(s["ensemble"], dim=-1)
        distill = (soft_ce(teacher, s["dense"]) + 0.1 * soft_ce(teacher, s["sparse"])
                   + soft_ce(teacher, s["colbert"])) / 3
        loss = (loss + distill) / 2
    return loss


# ---------------------------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("self_distill", [False, True])
def test_unified_in_batch_loss_matches_reference(m3_parts, self_distill):
    path, tokenizer = m3_parts
    model = build_model(path, tokenizer, use_self_distill=self_distill)
    loss = model(features(tokenizer, QUERIES), features(tokenizer, PASSAGES)).loss
    with torch.no_grad():
        s = reference_scores(reference_reps(model, tokenizer, QUERIES), reference_reps(model, tokenizer, PASSAGES))
    assert loss.item() == pytest.approx(unified_reference(s, [0, 2, 4], self_distill).item(), rel=1e-5)


def test_no_in_batch_ensemble_is_scored_on_each_group(m3_parts):
    """Defect: FlagEmbedding 1.4.2 scored the no-in-batch ensemble on one passage per query (zero loss,
    IndexError for B > G); now every head and the ensemble use each query's own (B, G) group."""
    path, tokenizer = m3_parts
    model = build_model(path, tokenizer, use_self_distill=True)
    out = model(features(tokenizer, QUERIES), features(tokenizer, PASSAGES), None, True)
    with torch.no_grad():
        s = reference_scores(reference_reps(model, tokenizer, QUERIES), reference_reps(model, tokenizer, PASSAGES))
        s = {k: local(v, 2) for k, v in s.items()}
        ensemble_loss = ce(s["ensemble"], [0, 0, 0])
    assert s["ensemble"].shape == (3, 2) and ensemble_loss.item() > 0.01
    assert out.loss.item() == pytest.approx(unified_reference(s, [0, 0, 0], True).item(), rel=1e-5)


def m3_kd_reference(teacher: torch.Tensor, scores: torch.Tensor, first: List[int]) -> torch.Tensor:
    """sum_i mean_q teacher[q, i] * CE(row q with its group's passages < i masked, target first[q] + i)."""
    total = torch.zeros(())
    for i in range(teacher.shape[1]):
        terms = []
        for q in range(scores.shape[0]):
            row = scores[q].clone()
            row[first[q]:first[q] + i] = torch.finfo(row.dtype).min
            terms.append(teacher[q, i] * -torch.log_softmax(row, dim=0)[first[q] + i])
        total = total + torch.stack(terms).mean()
    return total


@pytest.mark.parametrize("no_in_batch", [False, True])
def test_m3_kd_loss_with_several_queries(m3_parts, no_in_batch):
    """Defect: ``m3_kd_loss`` raised IndexError on no-in-batch batches with B > 1."""
    path, tokenizer = m3_parts
    model = build_model(path, tokenizer, kd_loss_type="m3_kd_loss")
    teacher_scores = [3.0, 1.0, 0.5, 2.0, 1.0, -1.0]
    loss = model(features(tokenizer, QUERIES), features(tokenizer, PASSAGES), teacher_scores, no_in_batch).loss
    with torch.no_grad():
        s = reference_scores(reference_reps(model, tokenizer, QUERIES), reference_reps(model, tokenizer, PASSAGES))
        teacher = torch.softmax(torch.tensor(teacher_scores).view(3, 2), dim=-1)
        if no_in_batch:
            s = {k: local(v, 2) for k, v in s.items()}
        first = [0, 0, 0] if no_in_batch else [0, 2, 4]
        expected = (m3_kd_reference(teacher, s["dense"], first) + m3_kd_reference(teacher, s["ensemble"], first)
                    + 0.1 * m3_kd_reference(teacher, s["sparse"], first)
                    + m3_kd_reference(teacher, s["colbert"], first)) / 4
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


def test_dense_only_default_and_head_subsets(m3_parts, tmp_path):
    """Plain M3 = dense loss only and no head files; ``unified_heads`` trains any subset (here sparse+colbert:
    (0.1 * sparse + colbert + ensemble(0.3 * sparse + colbert)) / 3)."""
    path, tokenizer = m3_parts
    q, p = features(tokenizer, QUERIES), features(tokenizer, PASSAGES)
    dense_only = build_model(path, tokenizer, unified_finetuning=False)
    subset = build_model(path, tokenizer, unified_heads=["colbert", "sparse"])
    with torch.no_grad():
        s = reference_scores(reference_reps(subset, tokenizer, QUERIES), reference_reps(subset, tokenizer, PASSAGES))
    targets = [0, 2, 4]
    assert dense_only.heads == ("dense",) and subset.heads == ("sparse", "colbert")
    assert dense_only(q, p).loss.item() == pytest.approx(ce(s["dense"], targets).item(), rel=1e-5)
    expected = (0.1 * ce(s["sparse"], targets) + ce(s["colbert"], targets)
                + ce(0.3 * s["sparse"] + s["colbert"], targets)) / 3
    assert subset(q, p).loss.item() == pytest.approx(expected.item(), rel=1e-5)
    colbert_only = build_model(path, tokenizer, unified_heads=["colbert"])
    assert colbert_only(q, p).loss.item() == pytest.approx(ce(s["colbert"], targets).item(), rel=1e-5)
    dense_only.save(str(tmp_path / "dense"))
    subset.save(str(tmp_path / "subset"))
    assert not os.path.exists(tmp_path / "dense" / "colbert_linear.pt")
    assert {"colbert_linear.pt", "sparse_linear.pt", "config.json"} <= set(os.listdir(tmp_path / "subset"))


def test_resuming_restores_the_heads(m3_parts, tmp_path):
    path, tokenizer = m3_parts
    trained = build_model(path, tokenizer)
    with torch.no_grad():
        trained.model.sparse_linear.weight.add_(1.0)
    trained.save(str(tmp_path / "checkpoint-1"))
    resumed = build_model(path, tokenizer)
    resumed.load_extra_checkpoint_files(str(tmp_path / "checkpoint-1"))
    torch.testing.assert_close(resumed.model.sparse_linear.weight, trained.model.sparse_linear.weight)
    assert resumed.checkpoint_model() is resumed.model.model
    with pytest.raises(FileNotFoundError, match="lacks colbert_linear.pt / sparse_linear.pt"):
        resumed.load_extra_checkpoint_files(str(tmp_path))


def test_unified_heads_argument_is_validated(tmp_path):
    from FlagEmbedding.finetune.common.cli import parse_args
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3TrainingArguments,
    )

    classes = (EncoderOnlyEmbedderM3ModelArguments, EncoderOnlyEmbedderM3DataArguments,
               EncoderOnlyEmbedderM3TrainingArguments)
    base = ["--model_name_or_path", "x", "--output_dir", str(tmp_path)]
    training = parse_args(*classes, base + ["--unified_finetuning", "--unified_heads", "sparse", "dense"])[2]
    assert training.m3_heads == ("dense", "sparse")
    assert parse_args(*classes, base)[2].m3_heads == ("dense",)
    assert parse_args(*classes, base + ["--unified_finetuning", "True"])[2].m3_heads == ("dense", "sparse", "colbert")
    with pytest.raises(ValueError, match="unified_heads needs --unified_finetuning True"):
        parse_args(*classes, base + ["--unified_heads", "sparse"])
    with pytest.raises(SystemExit):  # argparse choices
        parse_args(*classes, base + ["--unified_finetuning", "--unified_heads", "lexical"])


def test_self_distill_starts_after_the_given_step(m3_parts):
    path, tokenizer = m3_parts
    model = build_model(path, tokenizer, use_self_distill=True, self_distill_start_step=0)
    q, p = features(tokenizer, QUERIES), features(tokenizer, PASSAGES)
    first, second = model(q, p).loss, model(q, p).loss
    with torch.no_grad():
        s = reference_scores(reference_reps(model, tokenizer, QUERIES), reference_reps(model, tokenizer, PASSAGES))
    assert model.step == 2
    assert first.item() == pytest.approx(unified_reference(s, [0, 2, 4], False).item(), rel=1e-5)
    assert second.item() == pytest.approx(unified_reference(s, [0, 2, 4], True).item(), rel=1e-5)


def test_colbert_sub_batches_of_different_widths_are_padded(m3_parts):
    """Defect: separately padded sub-batch chunks of ColBERT vectors failed to concatenate."""
    from FlagEmbedding.abc.finetune.embedder import AbsEmbedderCollator

    path, tokenizer = m3_parts
    model = build_model(path, tokenizer)
    chunked = AbsEmbedderCollator(tokenizer=tokenizer, sub_batch_size=2, padding=True, return_tensors="pt")
    batch = chunked.collate(QUERIES, [PASSAGES[0:2], PASSAGES[2:4], PASSAGES[4:6]], None, False)
    widths = {chunk["input_ids"].shape[1] for chunk in batch["passages"]}
    assert len(widths) > 1
    loss = model(batch["queries"], batch["passages"]).loss
    assert loss.item() == pytest.approx(model(features(tokenizer, QUERIES), features(tokenizer, PASSAGES)).loss.item(),
                                        rel=1e-5)


def test_for_inference_outputs(m3_parts):
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3ModelForInference,
        EncoderOnlyEmbedderM3Runner,
    )

    path, tokenizer = m3_parts
    model = EncoderOnlyEmbedderM3ModelForInference(EncoderOnlyEmbedderM3Runner.get_model(path), tokenizer=tokenizer,
                                                   normalize_embeddings=True).eval()
    feats = features(tokenizer, PASSAGES[:2])
    with torch.no_grad():
        out = model(feats, return_sparse=True, return_colbert_vecs=True)
        ref = reference_reps(model, tokenizer, PASSAGES[:2])
        short = model(feats, truncate_dim=8)
        embedding = model(feats, return_dense=False, return_sparse=True, return_sparse_embedding=True)
    assert set(out) == {"dense_vecs", "sparse_vecs", "colbert_vecs"}
    torch.testing.assert_close(out["dense_vecs"], ref["dense"])
    torch.testing.assert_close(out["colbert_vecs"], ref["colbert"])
    assert out["sparse_vecs"].shape == feats["input_ids"].shape
    torch.testing.assert_close(embedding["sparse_vecs"], ref["sparse"])
    assert set(short) == {"dense_vecs"} and short["dense_vecs"].shape == (2, 8)
    torch.testing.assert_close(short["dense_vecs"].norm(dim=-1), torch.ones(2))
    with pytest.raises(ValueError, match="Must choose one or more"):
        model(feats, return_dense=False)


def test_fix_encoder_trains_only_the_heads(m3_parts, tmp_path):
    from FlagEmbedding.finetune.common.cli import parse_args
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3Runner,
        EncoderOnlyEmbedderM3TrainingArguments,
    )

    path, _ = m3_parts
    data = C.write_overfit_data(str(tmp_path))
    args = parse_args(EncoderOnlyEmbedderM3ModelArguments, EncoderOnlyEmbedderM3DataArguments,
                      EncoderOnlyEmbedderM3TrainingArguments,
                      C.overfit_args(data, str(tmp_path / "out"), 1, 1e-3)
                      + ["--model_name_or_path", path, "--unified_finetuning", "--fix_encoder", "True"])
    runner = EncoderOnlyEmbedderM3Runner(model_args=args[0], data_args=args[1], training_args=args[2])
    trainable = {name for name, p in runner.model.named_parameters() if p.requires_grad}
    assert trainable == {"model.colbert_linear.weight", "model.colbert_linear.bias",
                         "model.sparse_linear.weight", "model.sparse_linear.bias"}


# ---------------------------------------------------------------------------------------------------- command 2
@pytest.fixture(scope="module")
def command_2_run(tiny_xlmr_m3, tmp_path_factory):
    """Documented command 2 (unified + self-distill, cross-device negatives) run in this process."""
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3Runner,
        EncoderOnlyEmbedderM3TrainingArguments,
    )

    tmp = str(tmp_path_factory.mktemp("m3_command"))
    args = C.local_args(C.COMMAND_2, tiny_xlmr_m3, C.EMBEDDER_DATA, tmp)
    with C.single_process_group(tmp):
        runner = run_main(EncoderOnlyEmbedderM3Runner, EncoderOnlyEmbedderM3ModelArguments,
                          EncoderOnlyEmbedderM3DataArguments, EncoderOnlyEmbedderM3TrainingArguments, args)
    return runner, os.path.join(tmp, "test_encoder_only_m3_bge-m3")


def test_command_2_writes_the_m3_checkpoint(command_2_run):
    runner, out = command_2_run
    assert runner.trainer.state.global_step == 2 and runner.model.step == 2
    assert {"config.json", "model.safetensors", "colbert_linear.pt", "sparse_linear.pt", "tokenizer.json",
            "training_args.bin"} <= set(os.listdir(out))
    heads = torch.load(os.path.join(out, "sparse_linear.pt"), weights_only=True)
    assert set(heads) == {"weight", "bias"}
    torch.testing.assert_close(heads["weight"], runner.model.model.sparse_linear.weight.detach())


@pytest.mark.parametrize("through_auto", [False, True])
def test_m3_round_trip_scores_match_training_model(command_2_run, through_auto):
    from FlagEmbedding import BGEM3FlagModel, FlagAutoModel
    from FlagEmbedding.finetune.embedder.encoder_only.m3.arguments import M3_HEADS

    runner, out = command_2_run
    if through_auto:
        embedder = FlagAutoModel.from_finetuned(out, model_class="encoder-only-m3", use_fp16=False, devices="cpu")
    else:
        embedder = BGEM3FlagModel(out, use_fp16=False, devices="cpu")
    assert isinstance(embedder, BGEM3FlagModel)
    pairs = [[q, p] for q, p in zip(QUERIES, PASSAGES[::2])] + [[QUERIES[0], PASSAGES[1]]]
    scores = embedder.compute_score(pairs)
    model, tokenizer = runner.model.eval(), runner.tokenizer
    with torch.no_grad():
        q = model.encode_features(features(tokenizer, [a for a, _ in pairs]), M3_HEADS)
        p = model.encode_features(features(tokenizer, [b for _, b in pairs]), M3_HEADS)
        expected = {"dense": (q["dense"] * p["dense"]).sum(-1), "sparse": (q["sparse"] * p["sparse"]).sum(-1),
                    "colbert": model.head_score("colbert", q, p).diagonal() * model.temperature}
    for key, values in expected.items():
        assert scores[key] == pytest.approx(values.tolist(), abs=1e-5), key


def test_command_2_same_dataset_variant_completes(tiny_xlmr_m3, tmp_path):
    args = C.local_args(C.COMMAND_2_SD, tiny_xlmr_m3, C.EMBEDDER_DATA, str(tmp_path))
    with C.single_process_group(str(tmp_path)):
        C.run_module(C.module_of(C.COMMAND_2_SD), args)
    out = tmp_path / "test_encoder_only_m3_bge-m3_sd"
    assert {"model.safetensors", "colbert_linear.pt", "sparse_linear.pt", "training_args.bin"} <= set(os.listdir(out))


def test_command_2_through_torchrun(tiny_xlmr_m3, tmp_path):
    """The real launcher: ``torchrun --nproc_per_node 1 -m ...m3`` (GPU-only flags dropped on CPU)."""
    from tests.helpers.training import localize, run_subprocess

    argv = localize(C.COMMAND_2, tiny_xlmr_m3, C.EMBEDDER_DATA, str(tmp_path))
    launcher = argv[:argv.index("-m", 3) + 2]
    run_subprocess(launcher + C.local_args(C.COMMAND_2, tiny_xlmr_m3, C.EMBEDDER_DATA, str(tmp_path), steps=1))
    out = tmp_path / "test_encoder_only_m3_bge-m3"
    assert {"model.safetensors", "colbert_linear.pt", "sparse_linear.pt", "training_args.bin"} <= set(os.listdir(out))


@pytest.mark.parametrize("script,command", [("encoder_only/m3.sh", C.COMMAND_2),
                                            ("encoder_only/m3_same_dataset.sh", C.COMMAND_2_SD)])
def test_shipped_scripts_pass_the_documented_flags(script, command, tmp_path):
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3TrainingArguments,
    )

    C.check_shipped_script(script, command, (EncoderOnlyEmbedderM3ModelArguments, EncoderOnlyEmbedderM3DataArguments,
                                             EncoderOnlyEmbedderM3TrainingArguments), str(tmp_path))


# ---------------------------------------------------------------------------------------------------- overfit
def test_m3_overfits_eight_queries(m3_parts, tmp_path):
    from FlagEmbedding.finetune.common.cli import run_main
    from FlagEmbedding.finetune.embedder.encoder_only.m3 import (
        EncoderOnlyEmbedderM3DataArguments,
        EncoderOnlyEmbedderM3ModelArguments,
        EncoderOnlyEmbedderM3Runner,
        EncoderOnlyEmbedderM3TrainingArguments,
    )
    from FlagEmbedding.finetune.embedder.encoder_only.m3.arguments import M3_HEADS

    path, tokenizer = m3_parts

    def accuracy(model) -> Dict[str, float]:
        model.eval()
        with torch.no_grad():
            q = model.encode_features(features(tokenizer, C.OVERFIT_QUERIES), M3_HEADS)
            p = model.encode_features(features(tokenizer, C.OVERFIT_PASSAGES), M3_HEADS)
            scores = {head: model.head_score(head, q, p) for head in M3_HEADS}
        scores["ensemble"] = model.ensemble_score(scores)
        return {k: v.argmax(dim=1).eq(torch.arange(8)).float().mean().item() for k, v in scores.items()}

    path = C.without_dropout(path, str(tmp_path / "model"))
    before = accuracy(build_model(path, tokenizer))
    data = C.write_overfit_data(str(tmp_path))
    runner = run_main(EncoderOnlyEmbedderM3Runner, EncoderOnlyEmbedderM3ModelArguments,
                      EncoderOnlyEmbedderM3DataArguments, EncoderOnlyEmbedderM3TrainingArguments,
                      C.overfit_args(data, str(tmp_path / "out"), 30, 2e-3)
                      + ["--model_name_or_path", path, "--unified_finetuning", "--temperature", "0.05"])
    after = accuracy(runner.model)
    logging.getLogger(__name__).info("overfit accuracy before %s after %s", before, after)
    assert after["ensemble"] >= 7 / 8 and after["dense"] >= 7 / 8, (before, after)
    assert after["ensemble"] > before["ensemble"], (before, after)
