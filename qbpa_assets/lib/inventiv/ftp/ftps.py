"""FTP and explicit FTPS (``AUTH TLS`` + ``PROT P``) over ftplib, binary mode.

As with curl, the URL path is relative to the login folder; ``//abs/dir`` is absolute. FTPS
verifies the server certificate (``INVENTIV_FTP_CA_FILE`` or the system store) before the
password is sent.
"""

from __future__ import annotations

import contextlib
import ftplib
import posixpath
import ssl
from pathlib import Path

from qbpa_assets.lib.inventiv.ftp.base import CHUNK, Endpoint, Progress, RemoteTransfer
from qbpa_assets.lib.inventiv.ftp.errors import (
    TransferAuthError,
    TransferCertificateError,
    TransferError,
)


class FtpTransfer(RemoteTransfer):
    """FTP or explicit FTPS (``AUTH TLS`` + ``PROT P``) over ftplib, binary mode."""

    def __init__(
        self, endpoint: Endpoint, *, ca_file: str | None, retries: int, backoff: float
    ) -> None:
        super().__init__(endpoint, retries=retries, backoff=backoff)
        self.tls, self.ca_file = endpoint.scheme == "ftps", ca_file
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
            self.ftp.storbinary(f"STOR {remote}", fh, blocksize=CHUNK, callback=block)

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

    def _list(self, folder: str) -> list[str]:
        try:
            entries = self.ftp.nlst(folder)
        except ftplib.error_perm as exc:  # some servers answer 550 for an empty folder
            if str(exc).startswith("550"):
                return []
            raise
        return [posixpath.basename(e.rstrip("/")) for e in entries]
