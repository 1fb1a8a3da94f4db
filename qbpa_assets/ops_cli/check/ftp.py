"""Inventiv FTP checks: variables, host key (SFTP), login, ``latest<account>`` writable.

The URL, account and credentials are judged by the :class:`InventivFtpResource` a run builds,
and the connection is opened by it (with a single attempt and a short timeout).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.ops_cli.check.report import FAIL, OK, Report, first_line
from qbpa_assets.ops_cli.check.settings import describe, problems_of


def check_ftp(resource: InventivFtpResource, env, report: Report) -> None:
    """Configuration, host key (SFTP), login, ``latest<account>`` writable."""
    from qbpa_assets.lib.inventiv.ftp import TransferAuthError, TransferError, TransferHostKeyError

    url = (resource.url or "").strip()
    scheme = urlsplit(url).scheme.lower() if url else ""
    later = (["host key"] if scheme == "sftp" else []) + ["login", "folder writable"]
    problems = problems_of(env, "ftp")
    if problems:
        report.add("variables", FAIL, *describe(problems))
        report.skip(later, "FTP configuration invalid")
        return
    try:
        _url, folder = resource._settings()  # the run's own validation
    except ValueError as exc:
        report.add(
            "variables",
            FAIL,
            first_line(exc),
            "set INVENTIV_FTP_URL and INVENTIV_ACCOUNT_ID (e.g. INVENTIV_FTP_URL=sftp://user@"
            "host:22/inbound, INVENTIV_ACCOUNT_ID=1234), and for SFTP INVENTIV_FTP_KEY_FILE "
            "and/or INVENTIV_FTP_PASSWORD",
        )
        report.skip(later, "FTP variables missing or invalid")
        return
    if resource.key_file and not Path(resource.key_file).expanduser().is_file():
        report.add(
            "variables",
            FAIL,
            f"INVENTIV_FTP_KEY_FILE {resource.key_file} is not a file",
            "point INVENTIV_FTP_KEY_FILE at the private key",
        )
        report.skip(later, "FTP configuration invalid")
        return
    known_hosts = resource.known_hosts or "~/.ssh/known_hosts"
    report.add("variables", OK, f"{_display(url)}, folder {folder}")
    try:
        with resource._open() as transfer:
            if scheme == "sftp":
                report.add("host key", OK, f"known ({known_hosts})")
            report.add("login", OK, f"connected to {transfer.display}")
            try:
                transfer.check_writable(folder)
            except (TransferError, OSError) as exc:
                report.add(
                    "folder writable",
                    FAIL,
                    first_line(exc),
                    f"give the user write access to {folder} under the URL folder (or create it)",
                )
                return
            report.add("folder writable", OK, f"wrote and removed a test file in {folder}")
    except TransferHostKeyError as exc:
        parts = urlsplit(url)
        report.add(
            "host key",
            FAIL,
            first_line(exc),
            f"verify the server's fingerprint with its administrator, then add it to "
            f"{known_hosts} (ssh-keyscan -p {parts.port or 22} {parts.hostname} >> "
            f"{known_hosts}) and set INVENTIV_FTP_KNOWN_HOSTS to that file",
        )
        report.skip(later[1:], "host key not trusted")
    except TransferAuthError as exc:
        if scheme == "sftp":
            report.add("host key", OK, f"known ({known_hosts})")
        report.add(
            "login",
            FAIL,
            first_line(exc),
            "check the user in INVENTIV_FTP_URL and INVENTIV_FTP_PASSWORD / "
            "INVENTIV_FTP_KEY_FILE (the key must be authorized on the server)",
        )
        report.skip(["folder writable"], "login failed")
    except (TransferError, ValueError) as exc:
        if scheme == "sftp":
            report.skip(["host key"], "server not reached")
        report.add(
            "login",
            FAIL,
            first_line(exc),
            "check host and port in INVENTIV_FTP_URL, that the server is up and that a "
            "firewall lets this machine through",
        )
        report.skip(["folder writable"], "no connection")


def _display(url: str) -> str:
    from qbpa_assets.lib.redact import url_without_password

    return url_without_password(url)
