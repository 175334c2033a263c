"""An unreachable Hub switches the process to offline mode before the first request (no minute of retries)."""
from __future__ import annotations

import socket

import pytest
from huggingface_hub import constants

from FlagEmbedding.utils import hub
from FlagEmbedding.utils.errors import ModelNotFoundError


@pytest.fixture()
def online_but_unreachable(monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    port = server.getsockname()[1]
    server.close()  # nothing listens there: connecting is refused at once
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "_probed", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")


def test_unreachable_hub_means_offline_before_the_loader_runs(online_but_unreachable, caplog):
    seen = []

    def loader(name, **kwargs):
        seen.append(constants.is_offline_mode())
        raise OSError("not in the cache")

    with pytest.raises(ModelNotFoundError, match=r"^Model 'org/model' is not a local folder and could not be "
                                                 r"downloaded from the Hugging Face Hub; download it on a connected "
                                                 r"machine \(`hf download org/model --local-dir <folder>`\)"):
        hub.from_pretrained(loader, "org/model")
    assert seen == [True]
    assert caplog.text.count("is unreachable; working offline with cached files only.") == 1


def test_reachable_hub_stays_online(monkeypatch):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    try:
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(hub, "_probed", False)
        hub.offline_if_unreachable()
        assert constants.is_offline_mode() is False
    finally:
        server.close()
