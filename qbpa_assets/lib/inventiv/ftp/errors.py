"""Transfer errors, and which of them are worth another try."""

from __future__ import annotations

import ftplib

import paramiko


class TransferError(RuntimeError):
    """An upload or connection failed (after retries where retrying made sense)."""


class TransferAuthError(TransferError):
    """The server refused the credentials; never retried."""


class TransferHostKeyError(TransferError):
    """The SFTP server's host key is unknown or differs from known_hosts; never retried."""


class TransferCertificateError(TransferHostKeyError):
    """The FTPS server's certificate is not trusted (unknown CA, wrong host); never retried."""


#: Retrying cannot fix these, and repeated bad logins may lock the account.
NEVER_RETRIED = (TransferAuthError, TransferHostKeyError)


def is_transient(exc: BaseException) -> bool:
    """Dropped connections, timeouts and FTP 4xx answers; not refusals nor missing paths."""
    if isinstance(exc, (*NEVER_RETRIED, ValueError)):
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
