"""Helpers of the flow tests: the export resources on the real sshd, file records, metadata."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import dagster as dg

from qbpa_assets.defs.invoices.assets import invoice_fil, quickbooks_invoices, staging_invoice_lines
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings
from qbpa_assets_tests.fixtures.stack import quickbooks_resource


def export_resources(qbo_emulator, sshd_server, warehouse, data_dir) -> tuple[dict, Path]:
    """Resources for one export into a folder of its own on the session's sshd.

    Returns the resources and the remote ``latestACME1`` folder (as a local path).
    """
    folder = f"inventiv-{uuid.uuid4().hex[:8]}"
    ftp = InventivFtpResource(
        url=sshd_server.url(folder),
        key_file=str(sshd_server.key_file),
        known_hosts=str(sshd_server.known_hosts),
        account_id="ACME1",
    )
    resources = {
        "quickbooks": quickbooks_resource(qbo_emulator, data_dir),
        "warehouse": warehouse,
        "inventiv_ftp": ftp,
        "qbpa": QbpaSettings(),
    }
    return resources, sshd_server.root / folder / "latestACME1"


def metadata(result: dg.ExecuteInProcessResult, key: list[str]) -> dict:
    """The plain metadata values of the one materialization of ``key`` in ``result``."""
    [mat] = result.asset_materializations_for_node("__".join(key))
    return {k: v.value for k, v in mat.metadata.items()}


def fil_records(path: Path) -> list[list[str]]:
    """The records of a ``.fil`` file (header first), checking its CRLF line ends."""
    raw = path.read_bytes()
    assert raw.endswith(b"\r\n")
    lines = raw.decode("utf-8").split("\r\n")[:-1]
    return [line.split("\t") for line in lines]


INVOICE_ASSETS = [quickbooks_invoices, staging_invoice_lines, invoice_fil]


def run_invoice_range(resources: dict, first: date, last: date) -> dg.ExecuteInProcessResult:
    """One run of the invoice flow over the days ``first``..``last``, as a UI range backfill."""
    job = dg.define_asset_job("invoice_range", selection=INVOICE_ASSETS).resolve(
        asset_graph=dg.Definitions(assets=INVOICE_ASSETS, resources=resources).resolve_asset_graph()
    )
    return job.execute_in_process(
        resources=resources,
        tags={
            "dagster/asset_partition_range_start": first.isoformat(),
            "dagster/asset_partition_range_end": last.isoformat(),
        },
    )
