"""Downloads of benchmark data: Hugging Face datasets and files, plain URLs, ``.gz`` and ``.zip`` archives."""
from __future__ import annotations

import gzip
import os
import shutil
import urllib.request
import zipfile
from typing import Any, Optional

from FlagEmbedding.utils.errors import MissingFileError
from FlagEmbedding.utils.files import atomic_write
from FlagEmbedding.utils.hub import offline_if_unreachable

#: errors that mean "the remote source could not be reached or read"
REMOTE_ERRORS = (OSError, zipfile.BadZipFile, EOFError)


class DatasetUnavailableError(MissingFileError):
    """The data is neither local nor downloadable; the message says where to get it and where to put it."""


class RemoteFilesMixin:
    """Download helpers of a data loader, cached under ``self.cache_dir``.

    Uses ``self.token``, ``self.force_redownload`` and ``self._forced`` (what was already re-downloaded once).
    """

    cache_dir: str
    token: Optional[str]
    force_redownload: bool
    _forced: set

    def _load_hf_dataset(self, path: str, name: Optional[str] = None, split: Optional[str] = None) -> Any:
        """``datasets.load_dataset`` into the loader's cache (forced re-download when requested)."""
        import datasets

        offline_if_unreachable()
        return datasets.load_dataset(
            path, name, split=split, cache_dir=self.cache_dir, token=self.token,
            download_mode="force_redownload" if self.force_redownload else None,
        )

    def _hf_file(self, repo_id: str, filename: str) -> str:
        """Download one file of a Hugging Face dataset repository (honours ``$HF_ENDPOINT``)."""
        from huggingface_hub import hf_hub_download

        offline_if_unreachable()
        return hf_hub_download(repo_id, filename, repo_type="dataset", cache_dir=self.cache_dir, token=self.token,
                               force_download=self.force_redownload)

    def _download_file(self, url: str, save_dir: str) -> str:
        """Download ``url`` to ``save_dir/<basename>`` (again when missing, empty or forced); return the path."""
        path = os.path.join(save_dir, os.path.basename(url))
        forced = self.force_redownload and path not in self._forced
        if os.path.exists(path) and os.path.getsize(path) > 0 and not forced:
            return path
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            raise ConnectionError(f"offline mode (HF_HUB_OFFLINE) forbids downloading {url}")

        def fetch(out: Any) -> None:
            with urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out)
            if out.tell() == 0:
                raise FileNotFoundError(f"{url} downloaded as an empty file")

        atomic_write(path, fetch, mode="wb")
        self._forced.add(path)
        return path

    def _download_gz_file(self, url: str, save_dir: str) -> str:
        """Download a ``.gz`` file and decompress it; return the path without ``.gz``."""
        gz_path = self._download_file(url, save_dir)
        path = gz_path[: -len(".gz")]
        if not os.path.exists(path) or os.path.getmtime(path) < os.path.getmtime(gz_path):
            with gzip.open(gz_path, "rb") as src:
                atomic_write(path, lambda dst: shutil.copyfileobj(src, dst), mode="wb")
        return path

    def _download_zip_file(self, url: str, save_dir: str) -> str:
        """Download a ``.zip`` file and extract it into ``<zip path minus .zip>/``; return that folder."""
        zip_path = self._download_file(url, save_dir)
        return self._extract_zip(zip_path, zip_path[: -len(".zip")])

    @staticmethod
    def _extract_zip(zip_path: str, target: str) -> str:
        """Extract ``zip_path`` into ``target`` unless an extraction newer than the archive is there."""
        marker = os.path.join(target, ".extracted")
        if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(zip_path):
            with zipfile.ZipFile(zip_path) as archive:
                archive.extractall(target)
            open(marker, "w").close()
        return target
