"""torchrun with 2 CPU processes (gloo) shares the corpus encoding: same cache bytes and metrics as one process,
and a rank killed mid-run leaves only its unfinished shards to the next launch."""
from __future__ import annotations

import glob
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest

from tests.helpers import REPO
from tests.helpers.benchmarks import QRELS, QUERIES, flags, write_library_layout
from tests.helpers.files import read_json

EXAMPLE = os.path.join(REPO, "examples", "distributed", "eval_beir_torchrun.sh")
CORPUS = {f"d{i}": {"title": f"T{i}", "text": f"passage {i} " + "word " * (i % 7)} for i in range(1, 31)}
QRELS_30 = {**QRELS, "q3": {"d3": 2, "d24": 1}}
SHARD = 2  # 30 documents -> 15 shards

#: runs the custom CLI; rank 1 (when SLOW_RANK=1) sleeps before each encode call so it can be killed mid-corpus
LAUNCHER = """
import os, sys, time
from FlagEmbedding.inference.embedder.encoder_only.base import BaseEmbedder
original = BaseEmbedder.encode_corpus
def encode_corpus(self, *args, **kwargs):
    if os.environ.get("SLOW_RANK") == os.environ.get("RANK"):
        time.sleep(1.0)
    return original(self, *args, **kwargs)
BaseEmbedder.encode_corpus = encode_corpus
from FlagEmbedding.evaluation.custom.__main__ import main
main(sys.argv[1:])
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_library_layout(str(tmp_path_factory.mktemp("data")), corpus=CORPUS, queries=QUERIES, qrels=QRELS_30)


def cli_args(data, root, model, **overrides):
    values = dict(eval_name="mine", dataset_dir=data, output_dir=os.path.join(root, "out"),
                  corpus_embd_save_dir=os.path.join(root, "embd"), corpus_embd_shard_size=SHARD,
                  eval_output_path=os.path.join(root, "summary.md"), k_values=[1, 3, 10],
                  embedder_name_or_path=model, devices="cpu", embedder_batch_size=4,
                  embedder_query_max_length=64, embedder_passage_max_length=64)
    values.update(overrides)
    return flags(values)


def environment(**extra):
    return {**os.environ, "PYTHONPATH": REPO, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", **extra}


def torchrun(script, argv):
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "--max_restarts", "0", script, *argv]


def launcher(tmp_path):
    path = tmp_path / "launch.py"
    path.write_text(LAUNCHER)
    return str(path)


def run(command, **env):
    result = subprocess.run(command, cwd=REPO, env=environment(**env), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def cache_files(root):
    """``{relative path: bytes}`` of every file of the embedding cache under ``root``."""
    embd = os.path.join(root, "embd")
    out = {}
    for path in sorted(glob.glob(os.path.join(embd, "**", "*"), recursive=True)):
        if os.path.isfile(path):
            with open(path, "rb") as f:
                out[os.path.relpath(path, embd)] = f.read()
    return out


def metrics(root, model):
    return read_json(os.path.join(root, "out", os.path.basename(model), "NoReranker", "EVAL", "eval_results.json"))


@pytest.fixture(scope="module")
def single(data, tmp_path_factory, bge_large):
    """The run of one process (a shared baseline)."""
    root = str(tmp_path_factory.mktemp("single"))
    run([sys.executable, "-m", "FlagEmbedding.evaluation.custom", *cli_args(data, root, bge_large)])
    return root


def example_command(tmp_path, root, model, data_root):
    """The arguments ``examples/distributed/eval_beir_torchrun.sh`` passes to torchrun (a stub records them)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "DATA": data_root, "MODEL": model, "MASTER_PORT": port,
           "CORPUS_EMBD": os.path.join(root, "embd"), "OUTPUT": os.path.join(root, "out"), "SHARD_ROWS": str(SHARD)}
    capture = 'torchrun() { printf "%s\\0" "$@"; }; source "$1"'
    out = subprocess.run(["bash", "-c", capture, "_", EXAMPLE], env=env, capture_output=True, check=True).stdout
    return out.decode().split("\0")[:-1]


def test_example_two_ranks_write_the_cache_of_one_process(tmp_path, bge_large):
    data_root = str(tmp_path / "beir")
    write_library_layout(os.path.join(data_root, "scifact"), corpus=CORPUS, queries=QUERIES, qrels=QRELS_30)
    single, two = str(tmp_path / "single"), str(tmp_path / "two")
    command = example_command(tmp_path, two, bge_large, data_root)
    assert command[:8] == ["--nnodes", "1", "--node_rank", "0", "--nproc_per_node", "2", "--master_addr", "127.0.0.1"]
    module = command.index("-m")
    assert command[module:module + 2] == ["-m", "FlagEmbedding.evaluation.beir"]
    run([sys.executable, *example_command(tmp_path, single, bge_large, data_root)[module:]])
    result = run([sys.executable, "-m", "torch.distributed.run", *command])
    files = cache_files(two)
    assert sorted(files) == sorted(cache_files(single))
    assert len([name for name in files if name.endswith(".npy")]) == 15
    assert files == cache_files(single)  # shards and manifest byte for byte, no leftover records
    assert metrics(two, bge_large) == metrics(single, bge_large)
    assert os.path.exists(os.path.join(two, "out", "beir_eval_results.md"))
    assert "Rank 0 encoded 8 of 15 corpus shards" in result.stderr
    assert "Rank 1 encoded 7 of 15 corpus shards" in result.stderr


def test_killed_rank_leaves_only_its_unfinished_shards(data, tmp_path, bge_large, single):
    root = str(tmp_path / "killed")
    argv = cli_args(data, root, bge_large)
    process = subprocess.Popen(torchrun(launcher(tmp_path), argv), cwd=REPO, env=environment(SLOW_RANK="1"),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.time() + 300
        records = []
        while time.time() < deadline and process.poll() is None and len(records) < 10:
            records = glob.glob(os.path.join(root, "embd", "**", "shard-*.record.json"), recursive=True)
            time.sleep(0.05)
        assert process.poll() is None, process.stderr.read().decode()[-3000:]
        rank1 = [child for child in psutil.Process(process.pid).children(recursive=True)
                 if child.environ().get("RANK") == "1"]
        assert len(rank1) == 1
        rank1[0].send_signal(signal.SIGKILL)
        process.wait(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode != 0
    assert not os.path.exists(os.path.join(root, "summary.md"))  # rank 0 never searched
    cache = os.path.dirname(glob.glob(os.path.join(root, "embd", "**", "manifest.json"), recursive=True)[0])
    before = {os.path.basename(path): os.stat(path).st_mtime_ns for path in glob.glob(os.path.join(cache, "shard-*.npy"))}
    survived = {name for name in before if os.path.exists(os.path.join(cache, name[:-4] + ".record.json"))}
    assert 10 <= len(survived) < 15
    assert {f"shard-{i:05d}.npy" for i in range(0, 15, 2)} <= survived  # rank 0 finished its shards

    result = run(torchrun(launcher(tmp_path), argv))
    after = {os.path.basename(path): os.stat(path).st_mtime_ns for path in glob.glob(os.path.join(cache, "shard-*.npy"))}
    rewritten = {name for name in after if before.get(name) != after[name]}
    assert rewritten == set(after) - survived  # exactly the shards the killed rank had not finished
    encoded = [int(line.split("Rank ")[1].split(" ")[2]) for line in result.stderr.splitlines()
               if "corpus shards into" in line and "Rank " in line]
    assert sum(encoded) == 15 - len(survived)
    assert cache_files(root) == cache_files(single)
    assert metrics(root, bge_large) == metrics(single, bge_large)


def test_distributed_run_needs_a_cache_folder(data, tmp_path, bge_large):
    argv = cli_args(data, str(tmp_path / "nocache"), bge_large)
    at = argv.index("--corpus_embd_save_dir")
    del argv[at:at + 2]
    result = subprocess.run(torchrun(launcher(tmp_path), argv), cwd=REPO, env=environment(), capture_output=True,
                            text=True, timeout=600)
    assert result.returncode != 0
    assert "A distributed run (torchrun with more than one process) needs --corpus_embd_save_dir" in result.stderr


def test_hn_mine_shares_the_candidate_encoding(tmp_path, tiny_bert):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(f'{{"query": "question {i}", "pos": ["answer {i}"], "neg": ["other {i}", "more {i}"]}}\n'
                              for i in range(7)), encoding="utf-8")

    def argv(root):
        # every candidate in range and no sampling: the output depends only on the ranking
        return [os.path.join(REPO, "scripts", "hn_mine.py"), "--input_file", str(source),
                "--output_file", os.path.join(root, "out.jsonl"), "--embedder_name_or_path", tiny_bert,
                "--range_for_sampling", "0-100", "--negative_number", "100", "--devices", "cpu",
                "--corpus_embd_save_dir", os.path.join(root, "embd"), "--corpus_embd_shard_size", "4"]

    single, two = str(tmp_path / "single"), str(tmp_path / "two")
    run([sys.executable, *argv(single)])
    result = run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                  "--max_restarts", "0", *argv(two)])
    assert "Rank 0 encoded 3 of 6 corpus shards" in result.stderr  # 21 candidates in shards of 4
    assert "Rank 1 encoded 3 of 6 corpus shards" in result.stderr
    assert cache_files(two) == cache_files(single) and len(cache_files(single)) == 7
    with open(os.path.join(single, "out.jsonl"), encoding="utf-8") as a, \
            open(os.path.join(two, "out.jsonl"), encoding="utf-8") as b:
        assert a.read() == b.read()


def _collectives_worker(rank, init_file, out_dir):
    import json

    import torch.distributed as dist

    from FlagEmbedding.retrieval import distributed

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        result = {"world": list(distributed.world()),
                  "flags": distributed.broadcast_flags([True, False, True] if rank == 0 else [False] * 3),
                  "assigned": distributed.assigned([3, 5, 8, 9, 11])}
        distributed.check_same("same fingerprint", "the fingerprint")
        try:
            distributed.check_same(f"fingerprint of rank {rank}", "the fingerprint of the cache")
        except ValueError as error:
            result["error"] = str(error)
        from FlagEmbedding.evaluation.mteb.__main__ import main

        try:  # MTEB runs in one process: refused, and the group is left
            main(["--eval_name", "mteb", "--embedder_name_or_path", "unused"])
        except ValueError as error:
            result["mteb"] = str(error)
        result["left"] = not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    with open(os.path.join(out_dir, f"{rank}.json"), "w") as f:
        json.dump(result, f)


def test_collectives_on_two_gloo_processes(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_collectives_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2)
    results = [read_json(str(tmp_path / f"{rank}.json")) for rank in (0, 1)]
    assert [r["world"] for r in results] == [[0, 2], [1, 2]]
    assert [r["flags"] for r in results] == [[True, False, True]] * 2  # rank 0's flags everywhere
    assert [r["assigned"] for r in results] == [[3, 8, 11], [5, 9]]
    message = ("The ranks disagree on the fingerprint of the cache; every node must see the same model files and "
               "data (same paths on a shared filesystem).")
    assert [r["error"] for r in results] == [message, message]  # every rank stops, not only the odd one
    refused = "MTEBEvalRunner does not split its work between torchrun processes; run it with python (one process)."
    assert [(r["mteb"], r["left"]) for r in results] == [(refused, True)] * 2
