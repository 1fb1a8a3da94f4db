"""Issue 9 case 9: a ``.part`` left by a cut-off upload is removed by the next upload of it.

The cut is real (the TCP connection under the client is shut down mid-transfer, against the
real sshd and the FTP server); the next upload comes from a new transfer, as from a later run
in a new process that knows nothing of the cut.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from qbpa_assets.lib.inventiv.ftp import TransferError, open_transfer

OTHER_PART = ".item.fil.0123456789ab.part"  # another file's upload: never touched


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "customer.fil"
    path.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    return path


def _parts(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def _cut(sock_of, limit: int):
    """A progress callback that shuts the client's TCP connection down after ``limit`` bytes."""
    state = {"cut": False}

    def progress(sent: int, total: int) -> None:
        if sent >= limit and not state["cut"]:
            state["cut"] = True
            sock_of().shutdown(socket.SHUT_RDWR)

    return progress, state


@pytest.mark.e2e
def test_sftp_part_of_a_cut_off_upload_is_removed_by_the_next_upload(sshd_server, payload):
    folder = sshd_server.root / "inventiv" / "latest45"
    folder.mkdir(parents=True)
    (folder / "customer.fil").write_bytes(b"old file\r\n")
    (folder / OTHER_PART).write_bytes(b"x")
    kw = {"key_file": str(sshd_server.key_file), "known_hosts": str(sshd_server.known_hosts)}
    url = sshd_server.url("inventiv")
    with open_transfer(url, retries=1, timeout=10, **kw) as t:
        progress, state = _cut(lambda: t.sftp.get_channel().get_transport().sock, 256 * 1024)
        with pytest.raises(TransferError):
            t.upload_atomic(payload, "latest45", "customer.fil", progress=progress)
    assert state["cut"]
    left = [p for p in _parts(folder) if p != OTHER_PART]
    assert len(left) == 1 and left[0].startswith(".customer.fil.")  # the cut left its .part
    assert (folder / "customer.fil").read_bytes() == b"old file\r\n"

    with open_transfer(url, timeout=10, **kw) as t:
        t.upload_atomic(payload, "latest45", "customer.fil")
    assert (folder / "customer.fil").read_bytes() == payload.read_bytes()
    assert _parts(folder) == [OTHER_PART]


@pytest.mark.e2e
def test_ftp_part_of_a_cut_off_upload_is_removed_by_the_next_upload(ftp_server, payload):
    folder = ftp_server.root / "inbound" / "latest46"
    folder.mkdir(parents=True)
    (folder / OTHER_PART).write_bytes(b"x")
    url = ftp_server.url("inbound")
    with open_transfer(url, password=ftp_server.password, retries=1, timeout=10) as t:
        progress, state = _cut(lambda: t.ftp.sock, 256 * 1024)
        with pytest.raises(TransferError):
            t.upload_atomic(payload, "latest46", "invoice.fil", progress=progress)
    assert state["cut"]
    left = [p for p in _parts(folder) if p != OTHER_PART]
    assert len(left) == 1 and left[0].startswith(".invoice.fil.")
    assert not (folder / "invoice.fil").exists()

    with open_transfer(url, password=ftp_server.password, timeout=10) as t:
        t.upload_atomic(payload, "latest46", "invoice.fil")
    assert (folder / "invoice.fil").read_bytes() == payload.read_bytes()
    assert _parts(folder) == [OTHER_PART]


def test_local_part_left_by_a_crash_is_removed_by_the_next_upload(tmp_path, payload):
    folder = tmp_path / "drop" / "latest47"
    folder.mkdir(parents=True)
    crashed = folder / ".customer.fil.abcdef012345.part"
    crashed.write_bytes(b"half a file")
    (folder / OTHER_PART).write_bytes(b"x")
    (folder / ".customer.fil.not-ours.part").write_bytes(b"a name qbpa never writes")
    with open_transfer((tmp_path / "drop").as_uri()) as t:
        t.upload_atomic(payload, "latest47", "customer.fil")
    assert not crashed.exists()
    assert _parts(folder) == [".customer.fil.not-ours.part", OTHER_PART]
