"""Resources for every environment, built from environment variables.

The same resource keys serve production, the demo and the tests: the emulator is just another
set of ``QBO_*`` values. Every value goes through ``dg.EnvVar``, so secrets are resolved at run
time and never stored in the definitions or shown in the UI. A variable that is not set is left
out: the UI still opens, and the resource that needs it fails with a message naming it (the
new-order sensor turns that into a skip reason instead of a failing tick).
"""

import os

import dagster as dg

from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource


def _optional(name: str) -> dg.EnvVar | None:
    """``EnvVar(name)`` when the variable is set, else None (the field's default applies)."""
    return dg.EnvVar(name) if os.environ.get(name) else None


def _optional_kwargs(**names: str) -> dict:
    return {field: env for field, name in names.items() if (env := _optional(name)) is not None}


@dg.definitions
def resources() -> dg.Definitions:
    """Resource instances shared by all flows."""
    data_dir = os.environ.get("QBPA_DATA_DIR", "./var")
    return dg.Definitions(
        resources={
            "quickbooks": QuickBooksResource(
                data_dir=data_dir,
                **_optional_kwargs(
                    client_id="QBO_CLIENT_ID",
                    client_secret="QBO_CLIENT_SECRET",
                    realm_id="QBO_REALM_ID",
                    refresh_token="QBO_REFRESH_TOKEN",
                    environment="QBO_ENVIRONMENT",
                    api_base_url="QBO_API_BASE_URL",
                    ca_bundle="QBO_CA_BUNDLE",
                ),
                **(
                    {"minor_version": dg.EnvVar.int("QBO_MINOR_VERSION")}
                    if os.environ.get("QBO_MINOR_VERSION")
                    else {}
                ),
            ),
            "inventiv_ftp": InventivFtpResource(
                **_optional_kwargs(
                    url="INVENTIV_FTP_URL",
                    account_id="INVENTIV_ACCOUNT_ID",
                    password="INVENTIV_FTP_PASSWORD",
                    key_file="INVENTIV_FTP_KEY_FILE",
                    known_hosts="INVENTIV_FTP_KNOWN_HOSTS",
                    ca_file="INVENTIV_FTP_CA_FILE",
                ),
            ),
            "inventiv_db": InventivDbResource(
                **_optional_kwargs(
                    connection_string="INVENTIV_DB_CONNECTION",
                    password="INVENTIV_DB_PASSWORD",
                    mappings_dir="QBPA_MAPPINGS_DIR",
                ),
            ),
            "warehouse": WarehouseResource(
                data_dir=data_dir,
                timezone=os.environ.get("QBPA_TIMEZONE", "UTC"),
                **_optional_kwargs(memory_limit="QBPA_DUCKDB_MEMORY_LIMIT"),
            ),
            "qbpa": QbpaSettings(
                **_optional_kwargs(
                    mappings_dir="QBPA_MAPPINGS_DIR",
                    sales_order_entity="QBO_SALES_ORDER_ENTITY",
                )
            ),
        }
    )
