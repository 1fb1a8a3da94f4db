"""Atomic file delivery to the Inventiv server over SFTP, FTP/FTPS or a local folder.

``open_transfer(url, ...)`` picks the protocol from the URL scheme:

* ``sftp://user@host:port/abs/dir`` (:mod:`.sftp`, paramiko; ``/~/dir`` is relative to the
  login folder). The server's host key must already be in ``known_hosts``: an unknown or
  changed key is refused, there is no trust-on-first-use.
* ``ftp://user@host:port/dir`` and ``ftps://…`` (:mod:`.ftps`, ftplib, explicit TLS with
  ``PROT P``). As with curl, the path is relative to the login folder; ``//abs/dir`` is absolute.
* ``file:///abs/dir`` (:mod:`.local`) — a local (or mounted) folder; the demo default.

Where each part lives: :mod:`.base` (the atomic temp-name → size check → rename upload, its
retries and the removal of ``.part`` leftovers), :mod:`.paths` (remote-path sanitizing),
:mod:`.errors` (what is retried: never authentication nor host keys), :mod:`.factory` (the URL
factory). Secrets never appear in log lines or exception messages: URLs are shown without
passwords.
"""

from qbpa_assets.lib.inventiv.ftp.base import Progress, Transfer, UploadResult
from qbpa_assets.lib.inventiv.ftp.errors import (
    TransferAuthError,
    TransferCertificateError,
    TransferError,
    TransferHostKeyError,
)
from qbpa_assets.lib.inventiv.ftp.factory import make_transfer, open_transfer
from qbpa_assets.lib.inventiv.ftp.ftps import FtpTransfer
from qbpa_assets.lib.inventiv.ftp.local import LocalTransfer
from qbpa_assets.lib.inventiv.ftp.paths import remote_folder
from qbpa_assets.lib.inventiv.ftp.sftp import SftpTransfer

__all__ = [
    "FtpTransfer",
    "LocalTransfer",
    "Progress",
    "SftpTransfer",
    "Transfer",
    "TransferAuthError",
    "TransferCertificateError",
    "TransferError",
    "TransferHostKeyError",
    "UploadResult",
    "make_transfer",
    "open_transfer",
    "remote_folder",
]
