"""SFTP over paramiko with strict host-key checking (no trust on first use).

The server's host key must already be in ``known_hosts`` (or ``~/.ssh/known_hosts``): an
unknown or changed key is refused with its fingerprint and the command that would add it.
Renames use OpenSSH's ``posix-rename`` extension, which replaces atomically; servers without it
get remove + rename.
"""

from __future__ import annotations

import contextlib
import posixpath
from pathlib import Path

import paramiko

from qbpa_assets.lib.inventiv.ftp.base import Endpoint, Progress, RemoteTransfer, logger
from qbpa_assets.lib.inventiv.ftp.errors import (
    TransferAuthError,
    TransferError,
    TransferHostKeyError,
)


class _UnknownHostKey(paramiko.SSHException):
    pass


class _RejectUnknown(paramiko.MissingHostKeyPolicy):
    """Refuse hosts missing from known_hosts, reporting the offered key's fingerprint."""

    def missing_host_key(self, client, hostname, key):  # noqa: D102
        raise _UnknownHostKey(f"{key.get_name()} {key.fingerprint}")


class SftpTransfer(RemoteTransfer):
    """SFTP over paramiko with strict host-key checking."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        key_file: str | None,
        known_hosts: str | None,
        retries: int,
        backoff: float,
    ) -> None:
        super().__init__(endpoint, retries=retries, backoff=backoff)
        self.key_file, self.known_hosts = key_file, known_hosts
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

    def _list(self, folder: str) -> list[str]:
        return self.sftp.listdir(folder)
