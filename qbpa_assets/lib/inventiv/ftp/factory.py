"""The URL factory: ``INVENTIV_FTP_URL`` to the transfer of its scheme."""

from __future__ import annotations

import contextlib
import getpass
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from qbpa_assets.lib.inventiv.ftp.base import Endpoint, Transfer
from qbpa_assets.lib.inventiv.ftp.ftps import FtpTransfer
from qbpa_assets.lib.inventiv.ftp.local import LocalTransfer
from qbpa_assets.lib.inventiv.ftp.paths import unsafe_url_path
from qbpa_assets.lib.inventiv.ftp.sftp import SftpTransfer
from qbpa_assets.lib.redact import url_without_password


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
    """Build (without connecting) the `Transfer` for a URL; `open_transfer` also connects it.

    Args:
        url: ``sftp://user@host:port/dir``, ``ftp://…``, ``ftps://…`` or ``file:///dir``.
        password: Password (SFTP: used with or instead of the key).
        key_file: SFTP private key file.
        known_hosts: SFTP known_hosts file; ``None`` uses ``~/.ssh/known_hosts``.
        timeout: Seconds for connect and each network operation.
        retries: Attempts per operation on transient errors (1 = no retry).
        backoff: First retry delay in seconds; doubles each time.
        ca_file: FTPS only: CA bundle to verify the server certificate.

    Returns:
        The transfer of the URL's scheme, not yet connected.

    Raises:
        ValueError: Malformed URL.
    """
    if not url:
        raise ValueError("INVENTIV_FTP_URL is empty")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    path = unquote(parts.path)
    if unsafe_url_path(path):
        raise ValueError(f"unsafe path in {url_without_password(url)}")
    password = (
        password if password is not None else (unquote(parts.password) if parts.password else None)
    )
    user = unquote(parts.username) if parts.username else ""
    if scheme == "file":
        if parts.hostname not in (None, "", "localhost"):
            raise ValueError(f"file URL must be local: {url_without_password(url)}")
        if not path.startswith("/"):
            raise ValueError("file URL needs an absolute folder: file:///path/to/dir")
        return LocalTransfer(Path(path), retries=retries, backoff=backoff)
    if not parts.hostname:
        raise ValueError(f"no host in {url_without_password(url)}")
    if scheme == "sftp":
        # curl convention: /abs/dir is absolute, /~/dir is relative to the login folder.
        base = (path[3:] or ".") if path.startswith("/~/") or path == "/~" else (path or ".")
        port, user, base = parts.port or 22, user or getpass.getuser(), base.rstrip("/") or "/"
    elif scheme in {"ftp", "ftps"}:
        # curl convention: ftp://host/dir is relative to the login folder, //dir absolute.
        base = path[1:] if path.startswith("/") else path
        base = base.rstrip("/") or ("/" if base.startswith("/") else ".")
        port, user = parts.port or 21, user or "anonymous"
    else:
        raise ValueError(f"unsupported transfer scheme {scheme!r} (use sftp, ftp, ftps or file)")
    endpoint = Endpoint(scheme, parts.hostname, port, user, base, password, timeout)
    if scheme == "sftp":
        return SftpTransfer(
            endpoint, key_file=key_file, known_hosts=known_hosts, retries=retries, backoff=backoff
        )
    return FtpTransfer(endpoint, ca_file=ca_file, retries=retries, backoff=backoff)


@contextlib.contextmanager
def open_transfer(url: str, *args: Any, **kwargs: Any) -> Iterator[Transfer]:
    """Connect to a destination and yield a `Transfer`; closes it on exit.

    Args:
        url: ``sftp://user@host:port/dir``, ``ftp://…``, ``ftps://…`` or ``file:///dir``.
        *args: `make_transfer`'s further arguments (password, key_file, known_hosts, timeout).
        **kwargs: `make_transfer`'s keywords (the above, and retries, backoff, ca_file).

    Yields:
        A connected transfer with ``upload_atomic`` and ``check_writable``.

    Raises:
        TransferAuthError: Credentials refused (no retries).
        TransferHostKeyError: SFTP host key unknown or changed (no retries).
        TransferError: Connection failed after retries.
        ValueError: Malformed URL.
    """
    transfer = make_transfer(url, *args, **kwargs)
    transfer.connect()
    try:
        yield transfer
    finally:
        transfer.close()
