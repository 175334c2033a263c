"""Process lifecycle: SIGTERM drains in-flight requests and exits 0; a full queue answers 503 + Retry-After;
CLI user errors are one ``error: ...`` line."""
from __future__ import annotations

import concurrent.futures
import os
import re
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

from FlagEmbedding import FlagModel
from tests.helpers import REPO
from tests.serve.conftest import MAX_LENGTH
from tests.helpers.server import ServerProcess


def test_sigterm_finishes_in_flight_requests_and_exits_zero(tiny_bert):
    # a long max wait and a huge token budget keep the requests queued when SIGTERM arrives
    server = ServerProcess(["--embedder", tiny_bert, "--devices", "cpu", "--max_wait_ms", "5000",
                            "--max_batch_tokens", "1000000", "--max_queue", "8", "--max_inputs_per_request", "8",
                            "--passage_max_length", str(MAX_LENGTH)]).start()
    try:
        texts = [[f"request {i} text {k}" for k in range(2)] for i in range(3)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(server.post, "/v1/embeddings", {"input": t}) for t in texts]
            deadline = time.monotonic() + 30
            while queue_depth(server) < 6 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert queue_depth(server) == 6
            # 6 inputs wait; 3 more exceed --max_queue 8: refused at once with Retry-After
            full = server.post("/v1/embeddings", {"input": ["a", "b", "c"]})
            assert full.status_code == 503 and full.headers["retry-after"] == "1"
            assert full.json()["error"]["code"] == "queue_full"
            assert not any(future.done() for future in futures)  # all three are in flight
            server.terminate()
            responses = [future.result(timeout=60) for future in futures]
        assert server.wait(timeout=60) == 0
        model = FlagModel(tiny_bert, devices="cpu", passage_max_length=MAX_LENGTH)
        for body, response in zip(texts, responses):
            assert response.status_code == 200
            np.testing.assert_allclose([d["embedding"] for d in response.json()["data"]], model.encode(body), atol=1e-6)
        assert "Traceback" not in server.output()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/health", timeout=2)
    finally:
        server.stop()


def queue_depth(server: ServerProcess) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    return float(re.search(r'flagembedding_queue_depth\{model="[^"]+"\} (\S+)', text).group(1))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "FlagEmbedding.serve", *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=180)


def test_cli_user_errors_are_one_line(capsys, tiny_bert):
    from FlagEmbedding.serve.cli import main

    cases = [
        ((), 2, "error: nothing to serve: give --embedder PATH_OR_NAME and/or --reranker PATH_OR_NAME "
         "(see `python -m FlagEmbedding.serve --help`)"),
        (("--embedder", tiny_bert, "--max_queue", "4"), 1,
         "error: --max_inputs_per_request (2048) must not exceed --max_queue (4): such a request could never be queued."),
        (("--embedder", tiny_bert, "--max_wait_ms", "-1"), 1, "error: --max_wait_ms must be >= 0, got -1.0."),
        (("--embedder", tiny_bert, "--use_fp16", "maybe"), 2,
         "error: argument --use_fp16: expected true or false, got 'maybe' (see `python -m FlagEmbedding.serve --help`)"),
        (("--embedder", tiny_bert, "--max_wait", "5"), 2,
         "error: unrecognized arguments: --max_wait 5; did you mean --max_wait_ms? "
         "(see `python -m FlagEmbedding.serve --help`)"),
        (("--embedder", tiny_bert, "--embedder_model_class", "nope"), 2,
         "error: argument --embedder_model_class: invalid choice: 'nope' (choose from "),
        (("--embedder", tiny_bert, "--examples_for_task", "[{"), 2, "error: argument --examples_for_task: expected JSON"),
        (("--embedder", tiny_bert, "--api_key", " \n"), 1, "error: --api_key must not be empty (or only whitespace)."),
        (("--embedder", tiny_bert, "--request_timeout", "0"), 1,
         "error: --request_timeout must be a positive number of seconds, got 0.0."),
        (("--embedder", tiny_bert, "--graceful_timeout", "-1"), 1, "error: --graceful_timeout must be >= 0 seconds, got -1.0."),
        (("--embedder", tiny_bert, "--request_timeout", "soon"), 2,
         "error: argument --request_timeout: invalid float value: 'soon'"),
    ]
    for args, code, line in cases:
        try:
            returned = main(list(args))
        except SystemExit as exit_:  # argparse and run_cli exit themselves
            returned = exit_.code
        err = capsys.readouterr().err
        assert returned == code, err
        assert len(err.strip().splitlines()) == 1 and err.startswith(line), err


def test_cli_unloadable_model_is_one_error_line(tmp_path):
    folder = tmp_path / "my-unregistered-model"
    folder.mkdir()
    result = run_cli("--embedder", str(folder), "--port", "0", "--log_level", "warning")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: could not load {folder}: Model name 'my-unregistered-model' "
                                "not found in the model mapping.")
    assert "--embedder_model_class" in lines[-1]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["flag", "env"])
def test_api_key_with_a_trailing_newline_is_stripped_with_a_warning(tiny_bert, how):
    key = "key-from-a-file"
    args = ["--embedder", tiny_bert, "--devices", "cpu", "--passage_max_length", str(MAX_LENGTH)]
    server = ServerProcess(args + ["--api_key", key + "\n"] if how == "flag" else args,
                           env={"FLAGEMBEDDING_API_KEY": key + "\n"} if how == "env" else None).start()
    try:
        url = f"{server.url}/v1/embeddings"
        authorized = httpx.post(url, json={"input": "x"}, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert authorized.status_code == 200
        assert httpx.post(url, json={"input": "x"}, timeout=60).status_code == 401
        assert ("WARNING - FlagEmbedding.serve.settings - The API key had leading or trailing whitespace; it was "
                "stripped") in server.output()
    finally:
        server.stop()


def test_api_key_settings_strip_whitespace(caplog):
    from FlagEmbedding.serve.settings import ServeSettings

    with caplog.at_level("WARNING", logger="FlagEmbedding.serve.settings"):
        assert ServeSettings(api_key=" secret-xyz\r\n").api_key == "secret-xyz"
        assert ServeSettings(api_key="secret-xyz").api_key == "secret-xyz"
    assert len(caplog.records) == 1 and "whitespace" in caplog.records[0].getMessage()
    assert "secret-xyz" not in caplog.records[0].getMessage()  # the key itself is not logged
    with pytest.raises(ValueError, match=r"^--api_key must not be empty \(or only whitespace\)\.$"):
        ServeSettings(api_key=" \n")
