"""A local or mounted folder: copy to a temporary name, fsync, ``os.replace``."""

from __future__ import annotations

import os
from pathlib import Path

from qbpa_assets.lib.inventiv.ftp.base import CHUNK, Progress, Transfer


class LocalTransfer(Transfer):
    """A local or mounted folder: copy to a temporary name, fsync, ``os.replace``."""

    def __init__(self, base: Path, *, retries: int, backoff: float) -> None:
        super().__init__(f"file://{base}", retries=retries, backoff=backoff)
        self.base = base

    def _connect(self) -> None:
        return None

    def _disconnect(self) -> None:
        return None

    def _join(self, parts: list[str]) -> str:
        return str(self.base.joinpath(*parts))

    def _makedirs(self, path: str) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)

    def _put(self, local: Path, remote: str, size: int, progress: Progress | None) -> None:
        sent = 0
        with local.open("rb") as fin, open(remote, "wb") as fout:
            while chunk := fin.read(CHUNK):
                fout.write(chunk)
                sent += len(chunk)
                if progress is not None:
                    progress(sent, size)
            fout.flush()
            os.fsync(fout.fileno())

    def _size(self, remote: str) -> int:
        return os.stat(remote).st_size

    def _replace(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def _remove(self, remote: str) -> None:
        os.unlink(remote)

    def _list(self, folder: str) -> list[str]:
        return os.listdir(folder)
