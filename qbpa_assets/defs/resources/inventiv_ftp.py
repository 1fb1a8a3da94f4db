"""The Inventiv FTP drop: uploads `.fil` files atomically into ``latest<account_id>``."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from qbpa_assets.lib.inventiv.ftp import UploadResult, open_transfer, remote_folder


class InventivFtpResource(dg.ConfigurableResource):
    """Where PocketAdvantage picks up its nightly files.

    Wraps `qbpa_assets.lib.inventiv.ftp`: SFTP (strict host keys), FTP/FTPS or a local folder,
    atomic temp-name-then-rename uploads, retries with backoff on transient errors and none on
    authentication failures. Files land in ``<url folder>/latest<account_id>/``.
    """

    url: str | None = Field(
        default=None,
        description="INVENTIV_FTP_URL: sftp://user@host:port/dir, ftp://…, ftps://… or file:///dir",
    )
    account_id: str | None = Field(
        default=None, description="INVENTIV_ACCOUNT_ID: the <id> of latest<id>"
    )
    password: str | None = Field(default=None, description="INVENTIV_FTP_PASSWORD")
    key_file: str | None = Field(
        default=None, description="INVENTIV_FTP_KEY_FILE: SFTP private key"
    )
    known_hosts: str | None = Field(
        default=None,
        description="INVENTIV_FTP_KNOWN_HOSTS: known_hosts file (default ~/.ssh/known_hosts)",
    )
    ca_file: str | None = Field(
        default=None,
        description="INVENTIV_FTP_CA_FILE: FTPS only, a CA to trust (default: the system store)",
    )
    history_dir: str | None = Field(
        default=None,
        description=(
            "INVENTIV_FTP_HISTORY_DIR: optional folder (relative to the URL folder) that keeps a "
            "dated copy of every delivered file"
        ),
    )
    timeout: int = Field(default=30, description="seconds per connect/network operation")
    retries: int = Field(default=3, description="attempts on transient errors")

    def _settings(self) -> tuple[str, str]:
        missing = [
            var
            for var, value in (
                ("INVENTIV_FTP_URL", self.url),
                ("INVENTIV_ACCOUNT_ID", self.account_id),
            )
            if not (value or "").strip()
        ]
        if missing:
            raise ValueError(
                f"Inventiv FTP is not configured: set {', '.join(missing)} "
                "(e.g. INVENTIV_FTP_URL=sftp://user@host:22/inbound, INVENTIV_ACCOUNT_ID=1234)"
            )
        try:
            folder = remote_folder(self.account_id.strip())
        except ValueError as exc:
            raise ValueError(f"INVENTIV_ACCOUNT_ID is invalid: {exc}") from None
        url = self.url.strip()
        if url.lower().startswith("sftp://") and not (self.key_file or self.password):
            raise ValueError(
                "SFTP needs INVENTIV_FTP_KEY_FILE and/or INVENTIV_FTP_PASSWORD to be set"
            )
        return url, folder

    def _open(self):
        url, _folder = self._settings()
        return open_transfer(
            url,
            password=self.password or None,
            key_file=self.key_file or None,
            known_hosts=self.known_hosts or None,
            ca_file=self.ca_file or None,
            timeout=self.timeout,
            retries=self.retries,
        )

    def upload(self, local_path: Path, remote_name: str) -> UploadResult:
        """Upload ``local_path`` as ``latest<account_id>/<remote_name>``, replacing atomically.

        Raises:
            ValueError: Missing or invalid configuration (names the variable).
            qbpa_assets.lib.inventiv.ftp.TransferError: The transfer failed (auth, host key, …).
        """
        _url, folder = self._settings()
        with self._open() as transfer:
            return transfer.upload_atomic(Path(local_path), folder, remote_name)

    def upload_history(self, local_path: Path, dated_name: str) -> str | None:
        """Keep a dated copy as ``<history_dir>/<dated_name>`` when a history folder is set.

        Args:
            local_path: The delivered file.
            dated_name: ``<YYYY-MM-DD>/<name>`` (see ``lib.inventiv.deliveries.history_name``).

        Returns:
            The remote path of the copy, or None when ``INVENTIV_FTP_HISTORY_DIR`` is not set.
        """
        if not (self.history_dir or "").strip():
            return None
        self._settings()
        folder, _, name = dated_name.rpartition("/")
        remote_dir = "/".join(p for p in (self.history_dir.strip().strip("/"), folder) if p)
        with self._open() as transfer:
            return transfer.upload_atomic(Path(local_path), remote_dir, name).remote_path

    def check(self) -> str:
        """Check that ``latest<account_id>`` is writable (for ``qbpa check``); return its name."""
        _url, folder = self._settings()
        with self._open() as transfer:
            transfer.check_writable(folder)
        return folder
