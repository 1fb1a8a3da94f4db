"""Atomic uploads against a real OpenSSH sshd, a real FTP server and a local folder."""

from __future__ import annotations

import ftplib
import os
import socket
import ssl
import time
from pathlib import Path

import paramiko
import pytest

from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.lib.inventiv.ftp import (
    TransferAuthError,
    TransferCertificateError,
    TransferError,
    TransferHostKeyError,
    open_transfer,
    remote_folder,
)
from qbpa_assets_tests.fixtures.servers import start_sftp_server


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    # Random bytes: incompressible, so the transfer really streams megabytes.
    path = tmp_path / "customer.fil"
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# ------------------------------------------------------------------------- account folder
@pytest.mark.parametrize("good", ["1234", "ACME-01", "a_b"])
def test_remote_folder(good):
    assert remote_folder(good) == f"latest{good}"


@pytest.mark.parametrize("bad", ["", " ", "a/b", "..", "a..b", "a\\b", "a\nb", "a\x00", " 12"])
def test_remote_folder_rejects(bad):
    with pytest.raises(ValueError):
        remote_folder(bad)


@pytest.mark.parametrize(
    ("remote_dir", "name"),
    [
        ("../x", "f.fil"),
        ("/etc", "f.fil"),
        ("ok", "../f"),
        ("ok", "a/b"),
        ("ok", ""),
        ("a\\b", "f.fil"),
    ],
)
def test_unsafe_remote_paths_rejected(tmp_path, payload, remote_dir, name):
    with open_transfer(tmp_path.as_uri()) as t, pytest.raises(ValueError):
        t.upload_atomic(payload, remote_dir, name)


def test_unsupported_scheme():
    with pytest.raises(ValueError, match="scheme"), open_transfer("http://example.invalid/x"):
        pass


# ------------------------------------------------------------------------------- file://
def test_file_upload_replaces_atomically(tmp_path, payload):
    dest = tmp_path / "drop"
    with open_transfer(dest.as_uri()) as t:
        t.check_writable("latest7")
        first = t.upload_atomic(payload, "latest7", "customer.fil")
        payload.write_bytes(b"v2\r\n")
        second = t.upload_atomic(payload, "latest7", "customer.fil")
    assert first.bytes == 3 * 1024 * 1024 + 17 and second.bytes == 4
    assert Path(second.remote_path) == dest / "latest7" / "customer.fil"
    assert (dest / "latest7" / "customer.fil").read_bytes() == b"v2\r\n"
    assert _leftovers(dest / "latest7") == []


# --------------------------------------------------------------------------------- SFTP
def _sftp(srv, **kw):
    kw.setdefault("key_file", str(srv.key_file))
    kw.setdefault("known_hosts", str(srv.known_hosts))
    kw.setdefault("timeout", 10)
    return open_transfer(srv.url("inventiv"), **kw)


@pytest.mark.e2e
def test_sftp_upload_to_real_sshd(sshd_server, payload):
    folder = sshd_server.root / "inventiv" / "latest42"
    with _sftp(sshd_server) as t:
        t.check_writable("latest42")
        result = t.upload_atomic(payload, "latest42", "customer.fil")
        assert result.remote_path == str(folder / "customer.fil")
        assert result.bytes == payload.stat().st_size
        assert (folder / "customer.fil").read_bytes() == payload.read_bytes()
        payload.write_bytes(b"second version\r\n")
        t.upload_atomic(payload, "latest42", "customer.fil")
    assert (folder / "customer.fil").read_bytes() == b"second version\r\n"
    assert _leftovers(folder) == []


def _cut_after(transfer, limit: int, times: int = 1):
    """A progress callback that cuts the TCP connection under paramiko after ``limit`` bytes."""
    cuts = {"n": 0}

    def progress(sent: int, total: int) -> None:
        if sent >= limit and cuts["n"] < times:
            cuts["n"] += 1
            sock = transfer.sftp.get_channel().get_transport().sock
            sock.shutdown(socket.SHUT_RDWR)  # a real cut: both directions of the TCP stream

    return progress, cuts


@pytest.mark.e2e
def test_sftp_cut_midway_keeps_old_file(sshd_server, payload):
    folder = sshd_server.root / "inventiv" / "latest43"
    folder.mkdir(parents=True)
    (folder / "customer.fil").write_bytes(b"old file\r\n")
    with _sftp(sshd_server, retries=1) as t:
        progress, cuts = _cut_after(t, 512 * 1024)
        with pytest.raises(TransferError):
            t.upload_atomic(payload, "latest43", "customer.fil", progress=progress)
        assert cuts["n"] == 1
        assert (folder / "customer.fil").read_bytes() == b"old file\r\n"
        # The next operation reconnects and removes the half-written temporary file.
        t.check_writable("latest43")
    assert _leftovers(folder) == []


@pytest.mark.e2e
def test_sftp_cut_midway_is_retried(sshd_server, payload):
    folder = sshd_server.root / "inventiv" / "latest44"
    with _sftp(sshd_server, retries=3, backoff=0.05) as t:
        progress, cuts = _cut_after(t, 256 * 1024)
        t.upload_atomic(payload, "latest44", "customer.fil", progress=progress)
    assert cuts["n"] == 1
    assert (folder / "customer.fil").read_bytes() == payload.read_bytes()
    assert _leftovers(folder) == []


@pytest.mark.e2e
def test_sftp_unknown_host_key_refused(sshd_server, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(TransferHostKeyError, match="not in") as info:
        with _sftp(sshd_server, known_hosts=str(empty), retries=3, backoff=5):
            pass
    assert "ssh-keyscan" in str(info.value) and "SHA256" in str(info.value)


@pytest.mark.e2e
def test_sftp_changed_host_key_refused(sshd_server, tmp_path):
    other = paramiko.Ed25519Key.from_private_key_file(str(_other_key(tmp_path)))
    known = sshd_server.known_hosts_with(other, tmp_path / "known_hosts")
    started = time.monotonic()
    with pytest.raises(TransferHostKeyError, match="CHANGED"):
        with _sftp(sshd_server, known_hosts=str(known), retries=3, backoff=5):
            pass
    assert time.monotonic() - started < 4  # refused at once, not retried


def _other_key(tmp_path: Path) -> Path:
    import subprocess

    path = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@pytest.mark.e2e
def test_sftp_wrong_key_is_auth_error_without_retry(sshd_server, tmp_path):
    started = time.monotonic()
    with pytest.raises(TransferAuthError, match="authentication failed"):
        with _sftp(sshd_server, key_file=str(_other_key(tmp_path)), retries=3, backoff=5):
            pass
    assert time.monotonic() - started < 4  # a retry would have slept 5 s


@pytest.mark.e2e
def test_sftp_missing_known_hosts_file(sshd_server, tmp_path):
    with pytest.raises(TransferHostKeyError, match="does not exist"):
        with _sftp(sshd_server, known_hosts=str(tmp_path / "nope")):
            pass


def test_sftp_paramiko_fallback_server(tmp_path, payload):
    """The fallback used where sshd cannot run serves the same protocol and keys."""
    srv = start_sftp_server(tmp_path / "fallback", force_fallback=True)
    try:
        assert srv.kind == "paramiko"
        with _sftp(srv) as t:
            t.upload_atomic(payload, "latest1", "item.fil")
            payload.write_bytes(b"v2")
            t.upload_atomic(payload, "latest1", "item.fil")
        assert (srv.root / "inventiv" / "latest1" / "item.fil").read_bytes() == b"v2"
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------- FTP
@pytest.mark.e2e
def test_ftp_upload(ftp_server, payload):
    with open_transfer(ftp_server.url("inbound"), password=ftp_server.password, timeout=10) as t:
        t.check_writable("latest9")
        result = t.upload_atomic(payload, "latest9", "invoice.fil")
        payload.write_bytes(b"v2\r\n")
        t.upload_atomic(payload, "latest9", "invoice.fil")
    folder = ftp_server.root / "inbound" / "latest9"
    assert result.remote_path == "inbound/latest9/invoice.fil"
    assert (folder / "invoice.fil").read_bytes() == b"v2\r\n"
    assert _leftovers(folder) == []


@pytest.mark.e2e
def test_ftp_wrong_password(ftp_server):
    started = time.monotonic()
    with pytest.raises(TransferAuthError) as info:
        with open_transfer(ftp_server.url(), password="wrong-secret-xyz", backoff=5):
            pass
    assert "wrong-secret-xyz" not in str(info.value)
    assert time.monotonic() - started < 4  # a retry would have slept 5 s


# -------------------------------------------------------------------------------- FTPS
@pytest.mark.e2e
def test_ftps_upload(ftps_server, payload):
    """Explicit FTPS: the server refuses plain logins and unprotected data channels."""
    with open_transfer(
        ftps_server.url("inbound"),
        password=ftps_server.password,
        ca_file=str(ftps_server.ca_file),
        timeout=10,
    ) as t:
        assert isinstance(t.ftp, ftplib.FTP_TLS) and isinstance(t.ftp.sock, ssl.SSLSocket)
        t.check_writable("latest9")
        result = t.upload_atomic(payload, "latest9", "invoice.fil")
        first = payload.read_bytes()
        folder = ftps_server.root / "inbound" / "latest9"
        assert (folder / "invoice.fil").read_bytes() == first
        payload.write_bytes(b"v2\r\n")
        t.upload_atomic(payload, "latest9", "invoice.fil")
    assert result.remote_path == "inbound/latest9/invoice.fil" and result.bytes == len(first)
    assert (folder / "invoice.fil").read_bytes() == b"v2\r\n"
    assert _leftovers(folder) == []


@pytest.mark.e2e
def test_ftps_server_refuses_plain_ftp(ftps_server):
    """The same server over ftp:// fails: proof that the upload above really used TLS."""
    plain = ftps_server.url().replace("ftps://", "ftp://", 1)
    with pytest.raises(TransferError) as info:
        with open_transfer(plain, password=ftps_server.password, retries=1):
            pass
    assert ftps_server.password not in str(info.value)


@pytest.mark.e2e
def test_ftps_untrusted_certificate_refused_without_retry(ftps_server):
    started = time.monotonic()
    with pytest.raises(TransferCertificateError, match="certificate not trusted") as info:
        with open_transfer(ftps_server.url(), password=ftps_server.password, backoff=5):
            pass
    assert isinstance(info.value, TransferHostKeyError)  # the resource treats both alike
    assert ftps_server.password not in str(info.value)
    assert time.monotonic() - started < 4  # a retry would have slept 5 s


@pytest.mark.e2e
def test_ftps_wrong_password(ftps_server):
    with pytest.raises(TransferAuthError):
        with open_transfer(
            ftps_server.url(),
            password="wrong-secret-xyz",
            ca_file=str(ftps_server.ca_file),
            backoff=5,
        ):
            pass


# ----------------------------------------------------------------------------- resource
@pytest.mark.e2e
def test_resource_uploads_into_latest_folder(sshd_server, payload):
    resource = InventivFtpResource(
        url=sshd_server.url("res"),
        account_id="777",
        key_file=str(sshd_server.key_file),
        known_hosts=str(sshd_server.known_hosts),
    )
    assert resource.check() == "latest777"
    result = resource.upload(payload, "customer.fil")
    assert result.remote_path == str(sshd_server.root / "res" / "latest777" / "customer.fil")
    assert Path(result.remote_path).read_bytes() == payload.read_bytes()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"url": "", "account_id": "1"}, "INVENTIV_FTP_URL"),
        ({"url": "file:///x", "account_id": ""}, "INVENTIV_ACCOUNT_ID"),
        ({"url": "file:///x", "account_id": "../1"}, "INVENTIV_ACCOUNT_ID"),
        ({"url": "sftp://u@h/x", "account_id": "1"}, "INVENTIV_FTP_KEY_FILE"),
    ],
)
def test_resource_config_errors_name_the_variable(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        InventivFtpResource(**kwargs).upload(tmp_path / "f", "customer.fil")


def test_resource_uploads_over_ftps_trusting_its_ca_file(ftps_server, tmp_path):

    local = tmp_path / "item.fil"
    local.write_bytes(b"ITEM_ID\r\n1\r\n")
    folder = "resource-ca"
    trusting = InventivFtpResource(
        url=ftps_server.url(folder),
        password=ftps_server.password,
        account_id="77",
        ca_file=str(ftps_server.ca_file),
    )
    trusting.upload(local, "item.fil")
    assert (ftps_server.root / folder / "latest77" / "item.fil").read_bytes() == local.read_bytes()

    untrusting = InventivFtpResource(
        url=ftps_server.url(folder + "-2"), password=ftps_server.password, account_id="77"
    )
    with pytest.raises(TransferHostKeyError):  # the system store does not know this CA
        untrusting.upload(local, "item.fil")
