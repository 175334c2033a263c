"""Load test of ``python -m FlagEmbedding.serve`` on all-MiniLM-L6-v2 with SciFact passages.

Starts the server on 127.0.0.1, then for each client count (default 1, 8, 32) sends ``--requests`` requests of
``--texts_per_request`` passages from that many concurrent clients and reports requests/s, passages/s and
p50/p99 latency. The baseline is the same model called in-process (``FlagModel.encode`` on the same passages,
``--batch_size`` per call), timed in the same run; rounds are interleaved (baseline, then each client count)
``--rounds`` times and the best of each is kept. Prints the CPU model and the ratio server / in-process.
``--infinity_python`` adds infinity-emb's ``v2`` server (its own venv, torch engine on the same model folder and
length, ``--batch_size`` as its batch size) under the same load, each client count right after ours.

    nice python benchmarks/serve_load.py --requests 512 --rounds 2
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np

from _common import (INFINITY_PYTHON, REPO, add_json_argument, cpu_model, minilm_path, scifact_passages,
                     sentence_transformers_folder, write_results)

sys.path.insert(0, REPO)
from tests.helpers.server import ServerProcess  # noqa: E402  (the tests' bounded server launcher)


class InfinityServer(ServerProcess):
    """infinity-emb's ``v2`` server from another venv's ``python``, on 127.0.0.1 with the same bounded start/stop
    and the OpenAI routes under ``/v1`` like ours."""

    def __init__(self, python: str, model: str, batch_size: int):
        super().__init__([], threads=None)
        self.python, self.model, self.batch_size = python, model, batch_size

    def command(self) -> List[str]:
        return [self.python, "-m", "infinity_emb.cli", "v2", "--model-id", self.model, "--engine", "torch",
                "--device", "cpu", "--batch-size", str(self.batch_size), "--host", "127.0.0.1", "--port",
                str(self.port), "--url-prefix", "/v1", "--log-level", "warning"]


async def load(url: str, bodies: List[dict], clients: int) -> Dict[str, float]:
    """Send ``bodies`` from ``clients`` concurrent keep-alive clients; every response must be 200."""
    import httpx

    queue: asyncio.Queue = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: List[float] = []

    async def client() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            while not queue.empty():
                body = queue.get_nowait()
                start = time.perf_counter()
                response = await http.post("/v1/embeddings", json=body)
                latencies.append(time.perf_counter() - start)
                if response.status_code != 200:
                    raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=512)
    parser.add_argument("--texts_per_request", type=int, default=1)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--max_length", type=int, default=256)
    parser.add_argument("--batch_size", type=int, default=32, help="in-process baseline batch size")
    parser.add_argument("--max_batch_tokens", type=int, default=16384)
    parser.add_argument("--max_wait_ms", type=float, default=5.0)
    parser.add_argument("--encoding_format", default="float", choices=["float", "base64"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--infinity_python", default=None,
                        help=f"interpreter of a venv with infinity-emb[torch,server] (e.g. {INFINITY_PYTHON}): adds "
                             "its server under the same load")
    add_json_argument(parser)
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    import torch

    from FlagEmbedding import FlagModel

    path = minilm_path()
    texts = scifact_passages(args.requests * args.texts_per_request)
    bodies = [{"input": texts[i:i + args.texts_per_request], "encoding_format": args.encoding_format}
              for i in range(0, len(texts), args.texts_per_request)]
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical cores), torch threads={torch.get_num_threads()}")
    print(f"all-MiniLM-L6-v2, {len(texts)} SciFact passages, max_length={args.max_length}, "
          f"{args.texts_per_request} passage(s)/request, server max_batch_tokens={args.max_batch_tokens}, "
          f"max_wait_ms={args.max_wait_ms}")

    model = FlagModel(path, pooling_method="mean", devices="cpu", batch_size=args.batch_size,
                      passage_max_length=args.max_length)
    servers = {"ours": ServerProcess(
        ["--embedder", path, "--embedder_model_class", "encoder-only-base", "--pooling_method", "mean", "--devices",
         "cpu", "--passage_max_length", str(args.max_length), "--max_batch_tokens", str(args.max_batch_tokens),
         "--max_wait_ms", str(args.max_wait_ms), "--max_inputs_per_request", str(max(args.texts_per_request, 1)),
         "--max_queue", str(max(8192, args.requests * args.texts_per_request))], threads=None)}
    work = tempfile.mkdtemp()
    if args.infinity_python:
        folder = sentence_transformers_folder(os.path.join(work, "model"), args.max_length)
        servers["infinity-emb"] = InfinityServer(args.infinity_python, folder, args.batch_size)
    try:
        for server in servers.values():
            server.start()
        model.encode(texts[:64])  # warm-up, every side
        for server in servers.values():
            asyncio.run(load(server.url, bodies[:64], 8))
        best: Dict[str, Dict[str, float]] = {}
        for _ in range(args.rounds):
            start = time.perf_counter()
            model.encode(texts)
            seconds = time.perf_counter() - start
            if "in-process" not in best or seconds < best["in-process"]["seconds"]:
                best["in-process"] = {"seconds": seconds}
            for clients in args.clients:
                for kind, server in servers.items():
                    stats = asyncio.run(load(server.url, bodies, clients))
                    name = f"{kind}, {clients} client(s)"
                    if name not in best or stats["seconds"] < best[name]["seconds"]:
                        best[name] = stats
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    baseline = len(texts) / best["in-process"]["seconds"]
    print(f"\n{'engine':<26}{'requests/s':>12}{'passages/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}")
    print(f"{'in-process encode':<26}{'':>12}{baseline:>12.1f}{'':>9}{'':>9}{1.0:>8.2f}")
    rows = [{"engine": "in-process encode", "clients": None, "passages_per_s": baseline, "ratio": 1.0,
             "batch_size": args.batch_size}]
    for name, stats in best.items():
        if name == "in-process":
            continue
        rate = len(texts) / stats["seconds"]
        print(f"{name:<26}{len(bodies) / stats['seconds']:>12.1f}{rate:>12.1f}"
              f"{stats['p50'] * 1000:>9.1f}{stats['p99'] * 1000:>9.1f}{rate / baseline:>8.2f}")
        kind, clients = name.split(", ")
        rows.append({"engine": kind, "clients": int(clients.split()[0]), "requests_per_s": len(bodies) / stats["seconds"],
                     "passages_per_s": rate, "p50_ms": stats["p50"] * 1000, "p99_ms": stats["p99"] * 1000,
                     "ratio": rate / baseline})
    write_results(args.json, "serve_load", rows, requests=len(bodies), texts_per_request=args.texts_per_request,
                  max_length=args.max_length)


if __name__ == "__main__":
    main()
