"""Atomic file delivery to the Inventiv server over SFTP, FTP/FTPS or a local folder.

``open_transfer(url, ...)`` picks the protocol from the URL scheme:

* ``sftp://user@host:port/abs/dir`` (paramiko; ``/~/dir`` is relative to the login folder).
  The server's host key must already be in ``known_hosts`` (or ``~/.ssh/known_hosts``): an
  unknown or changed key is refused, there is no trust-on-first-use.
* ``ftp://user@host:port/dir`` and ``ftps://…`` (ftplib, explicit TLS with ``PROT P``). As with
  curl, the path is relative to the login folder; ``//abs/dir`` is absolute.
* ``file:///abs/dir`` — a local (or mounted) folder; the demo default.

Every upload is atomic for the reader: the file goes to a hidden temporary name in the target
folder, its remote size is checked, then it is renamed over the old file (SFTP uses OpenSSH's
``posix-rename`` extension, which replaces atomically; servers without it get remove + rename).
A transfer cut off half-way therefore leaves the previous file intact. Transient failures
(dropped connection, timeouts, FTP 4xx) are retried with exponential backoff on a fresh
connection; authentication and host-key failures are raised at once, since retrying cannot
fix them and could lock the account.

Secrets never appear in log lines or exception messages: URLs are shown without passwords.
"""

from __future__ import annotations

import contextlib
import ftplib
import getpass
import logging
import os
import posixpath
import re
import ssl
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import paramiko

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], object]
_CHUNK = 64 * 1024
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class TransferError(RuntimeError):
    """An upload or connection failed (after retries where retrying made sense)."""


class TransferAuthError(TransferError):
    """The server refused the credentials; never retried."""


class TransferHostKeyError(TransferError):
    """The SFTP server's host key is unknown or differs from known_hosts; never retried."""


class TransferCertificateError(TransferHostKeyError):
    """The FTPS server's certificate is not trusted (unknown CA, wrong host); never retried."""


@dataclass(frozen=True)
class UploadResult:
    """Where a file landed and how big it is on the server."""

    remote_path: str
    bytes: int


def _check_component(value: str, what: str) -> str:
    if not value or value in {".", ".."}:
        raise ValueError(f"{what} must not be empty, '.' or '..'")
    if "/" in value or "\\" in value or ".." in value or _CONTROL_RE.search(value):
        raise ValueError(f"{what} {value!r} must not contain '/', '\\', '..' or control characters")
    return value


def remote_folder(account_id: str) -> str:
    r"""Return the Inventiv drop folder for an account: ``latest<account_id>``.

    Args:
        account_id: Inventiv customer id (``INVENTIV_ACCOUNT_ID``).

    Raises:
        ValueError: Empty, or holds ``/``, ``\\``, ``..`` or control characters.
    """
    if not isinstance(account_id, str) or not account_id.strip():
        raise ValueError("INVENTIV_ACCOUNT_ID must not be empty")
    if account_id != account_id.strip():
        raise ValueError(f"account id {account_id!r} must not start or end with blanks")
    return "latest" + _check_component(account_id, "account id")


def _split_remote_dir(remote_dir: str) -> list[str]:
    """Split a relative remote folder into checked components ('' → no component)."""
    if remote_dir in {"", "."}:
        return []
    if remote_dir.startswith("/") or "\\" in remote_dir:
        raise ValueError(f"remote folder {remote_dir!r} must be relative to the URL folder")
    return [_check_component(p, "remote folder part") for p in remote_dir.strip("/").split("/")]


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TransferAuthError | TransferHostKeyError | ValueError):
        return False
    if isinstance(exc, PermissionError | FileNotFoundError | IsADirectoryError):
        return False
    if isinstance(exc, ftplib.error_perm):
        return False
    return isinstance(
        exc,
        OSError
        | EOFError
        | paramiko.SSHException
        | ftplib.error_temp
        | ftplib.error_reply
        | TransferError,
    )


class Transfer(ABC):
    """One connection to a destination; subclasses speak a protocol.

    Use `open_transfer` rather than instantiating subclasses.
    """

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
        for attempt in range(1, self.retries + 1):
            try:
                self._ensure()
                return op()
            except (TransferAuthError, TransferHostKeyError):
                self.close()
                raise
            except Exception as exc:
                if not _is_transient(exc):
                    if isinstance(exc, TransferError):
                        raise
                    raise TransferError(f"{what} on {self.display} failed: {exc}") from exc
                self.close()
                if attempt == self.retries:
                    raise TransferError(
                        f"{what} on {self.display} failed after {attempt} attempt(s): "
                        f"{type(exc).__name__}: {exc}"
                    ) from exc
                delay = self.backoff * 2 ** (attempt - 1)
                logger.warning(
                    "%s on %s failed (%s: %s); retry %d/%d in %.1fs",
                    what,
                    self.display,
                    type(exc).__name__,
                    exc,
                    attempt,
                    self.retries - 1,
                    delay,
                )
                time.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

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
        folder = self._join(_split_remote_dir(remote_dir))
        final = posixpath.join(folder, _check_component(remote_name, "remote name"))
        tmp_holder: list[str] = []

        def attempt() -> None:
            tmp = posixpath.join(folder, f".{remote_name}.{uuid.uuid4().hex[:12]}.part")
            tmp_holder.append(tmp)
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
        logger.info("Uploaded %s to %s%s (%d bytes)", local.name, self.display, final, size)
        return UploadResult(remote_path=final, bytes=size)

    def check_writable(self, remote_dir: str = "") -> None:
        """Create ``remote_dir`` if needed, write a small test file there and remove it.

        Raises:
            TransferError: The folder cannot be written (or the subclasses above).
        """
        folder = self._join(_split_remote_dir(remote_dir))
        probe = posixpath.join(folder, f".qbpa-write-test-{uuid.uuid4().hex[:12]}")

        def attempt() -> None:
            self._makedirs(folder)
            self._put_bytes(probe, b"qbpa write test\n")
            self._remove(probe)

        self._retrying("write check", attempt)

    def _put_bytes(self, remote: str, data: bytes) -> None:
        import tempfile

        with tempfile.NamedTemporaryFile(delete=False) as fh:
            fh.write(data)
        try:
            self._put(Path(fh.name), remote, len(data), None)
        finally:
            os.unlink(fh.name)


# ---------------------------------------------------------------------------------------------
# SFTP
# ---------------------------------------------------------------------------------------------
class _UnknownHostKey(paramiko.SSHException):
    pass


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse hosts missing from known_hosts, reporting the offered key's fingerprint."""

    def missing_host_key(self, client, hostname, key):  # noqa: D102
        raise _UnknownHostKey(f"{key.get_name()} {key.fingerprint}")


class SftpTransfer(Transfer):
    """SFTP over paramiko with strict host-key checking."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        base: str,
        *,
        password: str | None,
        key_file: str | None,
        known_hosts: str | None,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        super().__init__(f"sftp://{user}@{host}:{port}", retries=retries, backoff=backoff)
        self.host, self.port, self.user, self.base = host, port, user, base
        self._password, self.key_file, self.known_hosts = password, key_file, known_hosts
        self.timeout = timeout
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None

    @property
    def sftp(self) -> paramiko.SFTPClient:
        """The live SFTP session (connects if needed)."""
        self._ensure()
        assert self._sftp is not None
        return self._sftp

    def _connect(self) -> None:
        client = paramiko.SSHClient()
        if self.known_hosts:
            if not Path(self.known_hosts).is_file():
                raise TransferHostKeyError(f"known_hosts file {self.known_hosts} does not exist")
            client.load_host_keys(self.known_hosts)
        else:
            client.load_system_host_keys()
        client.set_missing_host_key_policy(_RejectUnknown())
        where = f"[{self.host}]:{self.port}" if self.port != 22 else self.host
        source = self.known_hosts or "~/.ssh/known_hosts"
        try:
            client.connect(
                self.host,
                self.port,
                username=self.user,
                password=self._password,
                key_filename=self.key_file,
                timeout=self.timeout,
                banner_timeout=self.timeout,
                auth_timeout=self.timeout,
                channel_timeout=self.timeout,
                allow_agent=False,
                look_for_keys=False,
            )
            self._sftp = client.open_sftp()
            self._sftp.get_channel().settimeout(self.timeout)
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise TransferHostKeyError(
                f"host key of {where} CHANGED: the server offered {exc.key.get_name()} "
                f"{exc.key.fingerprint} but {source} expects {exc.expected_key.fingerprint}. "
                "Refusing to connect (possible man-in-the-middle); if the server was really "
                "re-keyed, update known_hosts after verifying the new fingerprint."
            ) from None
        except _UnknownHostKey as exc:
            client.close()
            raise TransferHostKeyError(
                f"host {where} is not in {source} (server offered {exc}). Refusing to connect; "
                f"after verifying the fingerprint, add it with: ssh-keyscan -p {self.port} "
                f"{self.host} >> {source}"
            ) from None
        except paramiko.PasswordRequiredException:
            client.close()
            raise TransferAuthError(f"private key {self.key_file} needs a passphrase") from None
        except paramiko.AuthenticationException as exc:
            client.close()
            raise TransferAuthError(
                f"authentication failed for {self.user}@{self.host}:{self.port} "
                f"({type(exc).__name__})"
            ) from None
        except BaseException:
            client.close()
            raise
        self._client = client

    def _disconnect(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = self._sftp = None

    def _makedirs(self, path: str) -> None:
        sftp = self.sftp
        current = "/" if path.startswith("/") else ""
        for part in [p for p in path.split("/") if p and p != "."]:
            current = posixpath.join(current, part) if current else part
            try:
                sftp.stat(current)
            except FileNotFoundError:
                sftp.mkdir(current)

    def _put(self, local: Path, remote: str, size: int, progress: Progress | None) -> None:
        with local.open("rb") as fh:
            # confirm=False: the size is checked by the caller with its own error message.
            self.sftp.putfo(fh, remote, file_size=size, callback=progress, confirm=False)

    def _size(self, remote: str) -> int:
        return int(self.sftp.stat(remote).st_size or 0)

    def _replace(self, src: str, dst: str) -> None:
        sftp = self.sftp
        try:
            sftp.posix_rename(src, dst)
            return
        except OSError as exc:
            # Servers without the OpenSSH extension answer "unsupported"; plain SFTP RENAME
            # refuses to overwrite, so remove the old file first (a short non-atomic gap).
            logger.info("posix-rename unavailable on %s (%s); remove + rename", self.display, exc)
        with contextlib.suppress(FileNotFoundError):
            sftp.remove(dst)
        sftp.rename(src, dst)

    def _remove(self, remote: str) -> None:
        if self._sftp is None:
            raise TransferError("not connected")
        self._sftp.remove(remote)


# ---------------------------------------------------------------------------------------------
# FTP / FTPS
# ---------------------------------------------------------------------------------------------
class FtpTransfer(Transfer):
    """FTP or explicit FTPS (``AUTH TLS`` + ``PROT P``) over ftplib, binary mode."""

    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        base: str,
        *,
        password: str | None,
        tls: bool,
        ca_file: str | None,
        timeout: float,
        retries: int,
        backoff: float,
    ) -> None:
        scheme = "ftps" if tls else "ftp"
        super().__init__(f"{scheme}://{user}@{host}:{port}", retries=retries, backoff=backoff)
        self.host, self.port, self.user, self.base, self.tls = host, port, user, base, tls
        self._password, self.ca_file, self.timeout = password, ca_file, timeout
        self._ftp: ftplib.FTP | None = None
        self._home = "/"

    @property
    def ftp(self) -> ftplib.FTP:
        """The live control connection (connects if needed)."""
        self._ensure()
        assert self._ftp is not None
        return self._ftp

    def _connect(self) -> None:
        if self.tls:
            context = ssl.create_default_context(cafile=self.ca_file)
            ftp: ftplib.FTP = ftplib.FTP_TLS(context=context, timeout=self.timeout)
        else:
            ftp = ftplib.FTP(timeout=self.timeout)
        try:
            ftp.connect(self.host, self.port, timeout=self.timeout)
            try:
                # FTP_TLS.login() sends AUTH TLS and verifies the certificate before the password.
                ftp.login(self.user, self._password or "")
            except ftplib.error_perm as exc:
                if str(exc).startswith("530"):
                    raise TransferAuthError(
                        f"authentication failed for {self.user}@{self.host}:{self.port}"
                    ) from None
                raise
            except ssl.SSLCertVerificationError as exc:
                # Like an unknown SSH host key: retrying cannot help, and the password must not
                # go to a server we cannot identify.
                raise TransferCertificateError(
                    f"refusing to connect to {self.display}: certificate not trusted "
                    f"({exc.verify_message}); pass the server's CA file"
                ) from None
            if isinstance(ftp, ftplib.FTP_TLS):
                ftp.prot_p()
            ftp.voidcmd("TYPE I")
            self._home = ftp.pwd()
        except BaseException:
            with contextlib.suppress(Exception):
                ftp.close()
            raise
        self._ftp = ftp

    def _disconnect(self) -> None:
        if self._ftp is not None:
            with contextlib.suppress(Exception):
                self._ftp.quit()
            self._ftp.close()
        self._ftp = None

    def _makedirs(self, path: str) -> None:
        ftp = self.ftp
        current = "/" if path.startswith("/") else ""
        for part in [p for p in path.split("/") if p and p != "."]:
            current = posixpath.join(current, part) if current else part
            try:
                ftp.mkd(current)
            except ftplib.error_perm as exc:
                # 550 is also the answer for "already exists": confirm the folder is there by
                # entering it, then go back so relative paths keep their meaning.
                try:
                    ftp.cwd(current)
                except ftplib.error_perm:
                    raise exc from None
                ftp.cwd(self._home)

    def _put(self, local: Path, remote: str, size: int, progress: Progress | None) -> None:
        sent = 0

        def block(data: bytes) -> None:
            nonlocal sent
            sent += len(data)
            if progress is not None:
                progress(sent, size)

        with local.open("rb") as fh:
            self.ftp.storbinary(f"STOR {remote}", fh, blocksize=_CHUNK, callback=block)

    def _size(self, remote: str) -> int:
        value = self.ftp.size(remote)
        return int(value) if value is not None else -1

    def _replace(self, src: str, dst: str) -> None:
        try:
            self.ftp.rename(src, dst)
        except ftplib.error_perm:
            # Some servers refuse to rename over an existing file.
            with contextlib.suppress(ftplib.error_perm):
                self.ftp.delete(dst)
            self.ftp.rename(src, dst)

    def _remove(self, remote: str) -> None:
        if self._ftp is None:
            raise TransferError("not connected")
        self._ftp.delete(remote)


# ---------------------------------------------------------------------------------------------
# Local folder
# ---------------------------------------------------------------------------------------------
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
            while chunk := fin.read(_CHUNK):
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


# ---------------------------------------------------------------------------------------------
def _redacted(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return f"{parts.scheme}://{netloc}{parts.path}"


def make_transfer(
    url: str,
    password: str | None = None,
    key_file: str | None = None,
    known_hosts: str | None = None,
    timeout: float = 30,
    *,
    retries: int = 3,
    backoff: float = 1.0,
    ca_file: str | None = None,
) -> Transfer:
    """Build (without connecting) the `Transfer` for a URL; see `open_transfer`."""
    if not url:
        raise ValueError("INVENTIV_FTP_URL is empty")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.path)
    if _CONTROL_RE.search(path) or any(p == ".." for p in path.split("/")):
        raise ValueError(f"unsafe path in {_redacted(url)}")
    password = (
        password if password is not None else (unquote(parts.password) if parts.password else None)
    )
    user = unquote(parts.username) if parts.username else ""
    if scheme == "file":
        if parts.hostname not in (None, "", "localhost"):
            raise ValueError(f"file URL must be local: {_redacted(url)}")
        if not path.startswith("/"):
            raise ValueError("file URL needs an absolute folder: file:///path/to/dir")
        return LocalTransfer(Path(path), retries=retries, backoff=backoff)
    if not parts.hostname:
        raise ValueError(f"no host in {_redacted(url)}")
    if scheme == "sftp":
        # curl convention: /abs/dir is absolute, /~/dir is relative to the login folder.
        base = (path[3:] or ".") if path.startswith("/~/") or path == "/~" else (path or ".")
        return SftpTransfer(
            parts.hostname,
            parts.port or 22,
            user or getpass.getuser(),
            base.rstrip("/") or "/",
            password=password,
            key_file=key_file,
            known_hosts=known_hosts,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
    if scheme in {"ftp", "ftps"}:
        # curl convention: ftp://host/dir is relative to the login folder, //dir absolute.
        base = path[1:] if path.startswith("/") else path
        base = base.rstrip("/") or ("/" if base.startswith("/") else ".")
        return FtpTransfer(
            parts.hostname,
            parts.port or 21,
            user or "anonymous",
            base,
            password=password,
            tls=scheme == "ftps",
            ca_file=ca_file,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
        )
    raise ValueError(f"unsupported transfer scheme {scheme!r} (use sftp, ftp, ftps or file)")


@contextlib.contextmanager
def open_transfer(
    url: str,
    password: str | None = None,
    key_file: str | None = None,
    known_hosts: str | None = None,
    timeout: float = 30,
    *,
    retries: int = 3,
    backoff: float = 1.0,
    ca_file: str | None = None,
) -> Iterator[Transfer]:
    """Connect to a destination and yield a `Transfer`; closes it on exit.

    Args:
        url: ``sftp://user@host:port/dir``, ``ftp://…``, ``ftps://…`` or ``file:///dir``.
        password: Password (SFTP: used with or instead of the key).
        key_file: SFTP private key file.
        known_hosts: SFTP known_hosts file; ``None`` uses ``~/.ssh/known_hosts``.
        timeout: Seconds for connect and each network operation.
        retries: Attempts per operation on transient errors (1 = no retry).
        backoff: First retry delay in seconds; doubles each time.
        ca_file: FTPS only: CA bundle to verify the server certificate.

    Yields:
        A connected transfer with ``upload_atomic`` and ``check_writable``.

    Raises:
        TransferAuthError: Credentials refused (no retries).
        TransferHostKeyError: SFTP host key unknown or changed (no retries).
        TransferError: Connection failed after retries.
        ValueError: Malformed URL.
    """
    transfer = make_transfer(
        url,
        password,
        key_file,
        known_hosts,
        timeout,
        retries=retries,
        backoff=backoff,
        ca_file=ca_file,
    )
    transfer.connect()
    try:
        yield transfer
    finally:
        transfer.close()
