"""Fine-tuning records, the documented fine-tuning commands made runnable here, and subprocess runs."""
from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from typing import Any, Dict, List, Optional, Sequence

from tests.helpers import REPO

EXAMPLES = os.path.join(REPO, "examples", "finetune")
PASSAGES = [
    "The giant panda is a bear species endemic to China.",
    "Paris is the capital of France.",
    "The quick brown fox jumps over the lazy dog.",
    "Deep learning models embed text into dense vectors for retrieval.",
    "BGE M3 supports dense, sparse and multi-vector retrieval.",
    "Hi! Hello there, how are you doing today?",
    "Yes or No: does the passage answer the query?",
    "numbers 0 1 2 3 4 5 6 7 8 9",
]


def record(index: int, num_neg: int = 3, scores: bool = False, **extra: Any) -> Dict[str, Any]:
    """A small valid record: query ``q<index>``, one positive, ``num_neg`` negatives (texts from PASSAGES)."""
    pos = PASSAGES[index % len(PASSAGES)]
    negs = [p for p in PASSAGES if p != pos][:num_neg]
    row: Dict[str, Any] = {"query": f"what is panda {index}", "pos": [pos], "neg": negs}
    if scores:
        row["pos_scores"] = [1.0]
        row["neg_scores"] = [0.1 * (k + 1) for k in range(len(negs))]
    row.update(extra)
    return row


# The documented commands (spec section 7), shorthands expanded literally.
EMB = ("--train_data ./example_data/retrieval ./example_data/sts/sts.jsonl ./example_data/classification-no_in_batch_neg "
       "./example_data/clustering-no_in_batch_neg --cache_path ~/.cache --train_group_size 8 --pad_to_multiple_of 8")
TR = ("--overwrite_output_dir --per_device_train_batch_size 2 --dataloader_drop_last True --warmup_ratio 0.1 "
      "--gradient_checkpointing --logging_steps 1 --save_steps 1000")
EMBTR = "--negatives_cross_device --temperature 0.02 --normalize_embeddings True"
RRTR = "--gradient_accumulation_steps 1 --weight_decay 0.01 --deepspeed ds_stage0.json"
HEAD = "torchrun --nproc_per_node 2 -m {module} --cache_dir $HF_HUB_CACHE"
COMMAND_1 = (
    HEAD.format(module="FlagEmbedding.finetune.embedder.encoder_only.base")
    + " --model_name_or_path BAAI/bge-large-en-v1.5 " + EMB + " --query_max_len 512 --passage_max_len 512"
    " --query_instruction_for_retrieval 'Represent this sentence for searching relevant passages: '"
    " --query_instruction_format '{}{}' --knowledge_distillation False"
    " --output_dir ./test_encoder_only_base_bge-large-en-v1.5 " + TR
    + " --learning_rate 1e-5 --fp16 --num_train_epochs 4 --deepspeed ds_stage0.json " + EMBTR
    + " --sentence_pooling_method cls --kd_loss_type kl_div"
)
SAME_DATASET = " --knowledge_distillation True --same_dataset_within_batch True --small_threshold 0 --drop_threshold 0"
COMMAND_1_SD = (COMMAND_1.replace("./test_encoder_only_base_bge-large-en-v1.5", "./test_encoder_only_base_bge-large-en-v1.5_sd")
                + SAME_DATASET)
COMMAND_5 = (
    HEAD.format(module="FlagEmbedding.finetune.reranker.encoder_only.base")
    + " --model_name_or_path BAAI/bge-reranker-base --train_data ./example_data/normal/examples.jsonl"
    " --cache_path ~/.cache --train_group_size 8 --query_max_len 256 --passage_max_len 256 --pad_to_multiple_of 8"
    " --knowledge_distillation True --output_dir ./test_encoder_only_base_bge-reranker-base " + TR
    + " --learning_rate 6e-5 --fp16 --num_train_epochs 4 " + RRTR
)


#: flags of every in-process fine-tuning run: tiny groups and batches, no reporting
RUN_FLAGS = ("--train_group_size", "4", "--per_device_train_batch_size", "2", "--report_to", "none",
             "--learning_rate", "1e-3")


def build_runner(runner_class: type, argument_classes: Sequence[type], model: str, data: str, output: Any,
                 *extra: str, flags: Sequence[str] = ()) -> Any:
    """``runner_class`` for ``model`` trained on ``data`` into ``output``, its arguments parsed by the fine-tuning
    CLI (``argument_classes``: model, data, training) from :data:`RUN_FLAGS`, ``flags`` (a test module's own)
    then ``extra`` (last wins). A test module binds the first two and ``flags`` with :func:`functools.partial`."""
    from FlagEmbedding.finetune.common.cli import parse_args

    argv = ["--model_name_or_path", model, "--train_data", data, "--output_dir", str(output), *RUN_FLAGS, *flags,
            *extra]
    model_args, data_args, training_args = parse_args(*argument_classes, argv)
    return runner_class(model_args=model_args, data_args=data_args, training_args=training_args)


def localize(command: str, model: str, example_dir: str, tmp: str) -> List[str]:
    """The documented command as argv with the model, example data, caches, output and DeepSpeed config made
    local: ``torchrun --nproc_per_node 2`` becomes a 1-process ``torch.distributed.run``."""
    argv = shlex.split(command)
    replaced = []
    for arg in argv:
        if arg.startswith("BAAI/"):
            arg = model
        elif arg.startswith("./example_data"):
            arg = os.path.join(example_dir, arg[2:])
        elif arg in ("~/.cache", "$HF_HUB_CACHE"):
            arg = os.path.join(tmp, "cache")
        elif arg.startswith("./test_"):
            arg = os.path.join(tmp, arg[2:])
        elif arg in ("ds_stage0.json", "ds_stage1.json"):
            arg = os.path.join(EXAMPLES, arg)
        replaced.append(arg)
    assert replaced[:3] == ["torchrun", "--nproc_per_node", "2"]
    return [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "1"] + replaced[3:]


def module_args(argv: Sequence[str]) -> List[str]:
    """The arguments after ``-m <module>``."""
    index = list(argv).index("-m", 3)
    return list(argv[index + 2:])


def without(argv: Sequence[str], flag: str, takes_value: bool = False) -> List[str]:
    """``argv`` without ``flag`` (and its value)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg == flag:
            skip = takes_value
            continue
        out.append(arg)
    return out


HAS_DEEPSPEED = importlib.util.find_spec("deepspeed") is not None


def without_missing_deepspeed(argv: Sequence[str]) -> List[str]:
    """DeepSpeed is optional (it is not in the extras): without it installed, ``--deepspeed <config>`` is dropped."""
    return list(argv) if HAS_DEEPSPEED else without(argv, "--deepspeed", takes_value=True)


def runnable_here(argv: Sequence[str]) -> List[str]:
    """A documented command made runnable on this machine: ``--deepspeed`` dropped without DeepSpeed, ``--fp16``
    dropped without a GPU (DeepSpeed refuses fp16 on the CPU: "Type fp16 is not supported on your device")."""
    import torch

    argv = without_missing_deepspeed(argv)
    return argv if torch.cuda.is_available() else without(argv, "--fp16")


def run_subprocess(argv: Sequence[str], cwd: Optional[str] = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run offline with wandb disabled; fail with the tail of the output on a non-zero exit."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "disabled", "TOKENIZERS_PARALLELISM": "false",
           "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(list(argv), cwd=cwd or REPO, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result


def shipped_script_args(script: str, cwd: str, tmp: str) -> List[str]:
    """The module arguments an example shell script passes to ``torchrun`` (a stub ``torchrun`` records them)."""
    stub_dir = os.path.join(tmp, "bin")
    os.makedirs(stub_dir, exist_ok=True)
    record_file = os.path.join(tmp, "torchrun_args")
    with open(os.path.join(stub_dir, "torchrun"), "w") as stub:
        stub.write(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {shlex.quote(record_file)}\n")
    os.chmod(os.path.join(stub_dir, "torchrun"), 0o755)
    env = {**os.environ, "PATH": stub_dir + os.pathsep + os.environ["PATH"], "HF_HUB_CACHE": os.path.join(tmp, "hub")}
    subprocess.run(["bash", script], cwd=cwd, env=env, check=True, capture_output=True)
    with open(record_file) as handle:
        args = handle.read().splitlines()
    assert args[:3] == ["--nproc_per_node", "2", "-m"]
    return args[4:]
