"""The base transfer: atomic upload (temporary name → size check → rename), retries, cleanup.

Every upload is atomic for the reader: the file goes to a hidden temporary name
``.<name>.<12 hex>.part`` in the target folder, its remote size is checked, then it is renamed
over the old file. A transfer cut off half-way therefore leaves the previous file intact. Its
``.part`` is removed at once if the connection still works, else on this transfer's next
connection, and in any case by the next successful upload of the same file, even from another
process (issue 9 case 9: a run killed mid-upload cannot clean up after itself).

Transient failures are retried on a fresh connection through :func:`qbpa_assets.lib.retry.call`;
authentication and host-key failures are raised at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import re
import tempfile
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from qbpa_assets.lib import retry
from qbpa_assets.lib.inventiv.ftp.errors import NEVER_RETRIED, TransferError, is_transient
from qbpa_assets.lib.inventiv.ftp.paths import check_component, split_remote_dir

logger = logging.getLogger("qbpa_assets.lib.inventiv.ftp")

Progress = Callable[[int, int], object]
CHUNK = 64 * 1024
_PART_SUFFIX = ".part"


@dataclass(frozen=True)
class UploadResult:
    """Where a file landed and how big it is on the server."""

    remote_path: str
    bytes: int


def part_name(remote_name: str) -> str:
    """A fresh temporary name for an upload of ``remote_name``."""
    return f".{remote_name}.{uuid.uuid4().hex[:12]}{_PART_SUFFIX}"


def is_part_of(name: str, remote_name: str) -> bool:
    """Whether ``name`` is a temporary file of an upload of ``remote_name``."""
    return re.fullmatch(rf"\.{re.escape(remote_name)}\.[0-9a-f]{{12}}\.part", name) is not None


class Transfer(ABC):
    """One connection to a destination; subclasses speak a protocol.

    Use :func:`~qbpa_assets.lib.inventiv.ftp.open_transfer` rather than instantiating
    subclasses.

    Args:
        display: The destination without credentials, for messages.
        retries: Attempts per operation on transient errors (1 = no retry).
        backoff: First retry delay in seconds; doubles each time (with jitter).
    """

    base: str

    def __init__(self, display: str, *, retries: int = 3, backoff: float = 1.0) -> None:
        self.display = display
        self.retries = max(1, retries)
        self.backoff = backoff
        self._connected = False
        self._stale: list[str] = []

    # -- protocol hooks -------------------------------------------------------------------
    @abstractmethod
    def _connect(self) -> None: ...

    @abstractmethod
    def _disconnect(self) -> None: ...

    def _join(self, parts: list[str]) -> str:
        """Full remote path of ``parts`` under the URL folder (``self.base``, POSIX)."""
        return posixpath.join(self.base, *parts) if parts else self.base

    @abstractmethod
    def _makedirs(self, path: str) -> None: ...

    @abstractmethod
    def _put(self, local: Path, remote: str, size: int, progress: Progress | None) -> None: ...

    @abstractmethod
    def _size(self, remote: str) -> int: ...

    @abstractmethod
    def _replace(self, src: str, dst: str) -> None: ...

    @abstractmethod
    def _remove(self, remote: str) -> None: ...

    @abstractmethod
    def _list(self, folder: str) -> list[str]:
        """Names (not paths) of the entries of a remote folder."""

    # -- connection management ------------------------------------------------------------
    def connect(self) -> None:
        """Connect (with retries on transient errors)."""
        self._retrying("connect", lambda: None)

    def close(self) -> None:
        """Close the connection; a later call reconnects."""
        if self._connected:
            self._connected = False
            with contextlib.suppress(Exception):
                self._disconnect()

    def _ensure(self) -> None:
        if not self._connected:
            self._connect()
            self._connected = True
            # Temporary files of attempts cut off earlier: remove them on the fresh connection.
            for stale in self._stale[:]:
                with contextlib.suppress(Exception):
                    self._remove(stale)
                self._stale.remove(stale)

    def _retrying(self, what: str, op: Callable[[], object]) -> object:
        def attempt() -> object:
            self._ensure()
            return op()

        policy = retry.Backoff(attempts=self.retries, base=self.backoff)

        def on_retry(failure: retry.Failure) -> None:
            self.close()
            exc = failure.error
            logger.warning(
                "%s on %s failed (%s: %s); retry %d/%d in %.1fs",
                what,
                self.display,
                type(exc).__name__,
                exc,
                failure.tries,
                self.retries - 1,
                failure.delay,
            )

        def on_give_up(failure: retry.Failure) -> BaseException | None:
            exc = failure.error
            if isinstance(exc, NEVER_RETRIED):
                self.close()
                return None
            if failure.permanent:
                if isinstance(exc, TransferError):
                    return None
                return TransferError(f"{what} on {self.display} failed: {exc}")
            self.close()
            return TransferError(
                f"{what} on {self.display} failed after {failure.tries} attempt(s): "
                f"{type(exc).__name__}: {exc}"
            )

        return retry.call(
            attempt,
            lambda exc: policy if is_transient(exc) else None,
            never=NEVER_RETRIED,
            on_retry=on_retry,
            on_give_up=on_give_up,
        )

    # -- public operations ----------------------------------------------------------------
    def upload_atomic(
        self,
        local_path: Path | str,
        remote_dir: str,
        remote_name: str,
        *,
        progress: Progress | None = None,
    ) -> UploadResult:
        """Upload a file and swap it in for ``remote_dir/remote_name`` in one rename.

        Args:
            local_path: File to send.
            remote_dir: Folder relative to the URL folder (``""`` for the URL folder itself);
                created if missing.
            remote_name: Final file name.
            progress: Optional ``callback(bytes_sent, total)``.

        Returns:
            The remote path and the size verified on the server.

        Raises:
            TransferAuthError: Credentials refused.
            TransferHostKeyError: SFTP host key unknown or changed.
            TransferError: Anything else, after retries.
            ValueError: Unsafe remote folder or name.
        """
        local = Path(local_path)
        size = local.stat().st_size
        folder = self._join(split_remote_dir(remote_dir))
        final = posixpath.join(folder, check_component(remote_name, "remote name"))

        def attempt() -> None:
            tmp = posixpath.join(folder, part_name(remote_name))
            self._makedirs(folder)
            try:
                self._put(local, tmp, size, progress)
                remote_size = self._size(tmp)
                if remote_size != size:
                    raise TransferError(
                        f"size check failed for {tmp}: {remote_size} bytes on the server, "
                        f"{size} sent"
                    )
                self._replace(tmp, final)
            except BaseException:
                # Clean up now if the connection still works, else on the next connection.
                try:
                    self._remove(tmp)
                except Exception:
                    self._stale.append(tmp)
                raise

        self._retrying(f"upload of {local.name}", attempt)
        self._remove_leftovers(folder, remote_name)
        logger.info("Uploaded %s to %s%s (%d bytes)", local.name, self.display, final, size)
        return UploadResult(remote_path=final, bytes=size)

    def _remove_leftovers(self, folder: str, remote_name: str) -> None:
        """Remove ``.part`` files of earlier uploads of ``remote_name`` (cut off, crashed).

        The upload itself has succeeded: a failure here is logged, never raised.
        """
        try:
            names = [n for n in self._list(folder) if is_part_of(n, remote_name)]
            for name in names:
                self._remove(posixpath.join(folder, name))
                logger.info("Removed %s left in %s by an earlier cut-off upload", name, folder)
        except Exception as exc:  # noqa: BLE001 - best effort, the next upload tries again
            logger.warning("could not remove leftover temporary files in %s: %s", folder, exc)

    def check_writable(self, remote_dir: str = "") -> None:
        """Create ``remote_dir`` if needed, write a small test file there and remove it.

        Raises:
            TransferError: The folder cannot be written (or the subclasses above).
        """
        folder = self._join(split_remote_dir(remote_dir))
        probe = posixpath.join(folder, f".qbpa-write-test-{uuid.uuid4().hex[:12]}")

        def attempt() -> None:
            self._makedirs(folder)
            self._put_bytes(probe, b"qbpa write test\n")
            self._remove(probe)

        self._retrying("write check", attempt)

    def _put_bytes(self, remote: str, data: bytes) -> None:
        with tempfile.NamedTemporaryFile(delete=False) as fh:
            fh.write(data)
        try:
            self._put(Path(fh.name), remote, len(data), None)
        finally:
            os.unlink(fh.name)


@dataclass(frozen=True)
class Endpoint:
    """Where a network transfer logs in: the URL's parts, the password kept out of ``repr``."""

    scheme: str
    host: str
    port: int
    user: str
    base: str
    password: str | None = field(default=None, repr=False)
    timeout: float = 30

    @property
    def display(self) -> str:
        """The destination without credentials, for messages."""
        return f"{self.scheme}://{self.user}@{self.host}:{self.port}"


class RemoteTransfer(Transfer):
    """A transfer to a server (SFTP, FTP, FTPS): keeps the endpoint's host, login and timeout.

    Args:
        endpoint: Host, port, user, URL folder, password and timeout.
        retries: Attempts per operation on transient errors (1 = no retry).
        backoff: First retry delay in seconds; doubles each time (with jitter).
    """

    def __init__(self, endpoint: Endpoint, *, retries: int, backoff: float) -> None:
        super().__init__(endpoint.display, retries=retries, backoff=backoff)
        self.host, self.port, self.user = endpoint.host, endpoint.port, endpoint.user
        self.base, self.timeout = endpoint.base, endpoint.timeout
        self._password = endpoint.password
