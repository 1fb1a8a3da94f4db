"""Resources for every environment, built from the declarations of ``qbpa_assets.config``.

The same resource keys serve production, the demo and the tests: the emulator is just another
set of ``QBO_*`` values. Every variable that is set reaches its resource field through
``dg.EnvVar`` (``EnvVar.int`` for integers), so secrets are resolved at run time and never
stored in the definitions or shown in the UI. A variable that is not set gets its declared
default, or is left out when it has none: the UI still opens, and the resource that needs it
fails with a message naming it. A set but invalid value never stops the code location from
loading: the resources check their values when a run starts (``config.check_values``).

:func:`build_resources` with ``resolved=True`` gives the same resources with plain values, for
``qbpa check``, which must judge the settings exactly as a run would.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from qbpa_assets import config
from qbpa_assets.defs.resources.inventiv_db import InventivDbResource
from qbpa_assets.defs.resources.inventiv_ftp import InventivFtpResource
from qbpa_assets.defs.resources.quickbooks import QuickBooksResource
from qbpa_assets.defs.resources.warehouse import QbpaSettings, WarehouseResource

RESOURCE_CLASSES: dict[str, type[dg.ConfigurableResource]] = {
    "quickbooks": QuickBooksResource,
    "inventiv_ftp": InventivFtpResource,
    "inventiv_db": InventivDbResource,
    "warehouse": WarehouseResource,
    "qbpa": QbpaSettings,
}


def resource_values(
    key: str, env: Mapping[str, str] | None = None, *, resolved: bool = False
) -> dict[str, Any]:
    """The constructor arguments of resource ``key``, from the declared variables.

    Args:
        key: A resource key of :data:`RESOURCE_CLASSES`.
        env: Variables to read (default ``os.environ``).
        resolved: Give plain values (for ``qbpa check``) instead of ``dg.EnvVar``; an integer
            that does not parse is left out (``config.problems`` reports it).

    Returns:
        ``{field: value}`` for every declared variable feeding the resource.
    """
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    for variable in config.VARIABLES:
        for resource_key, field in variable.fields:
            if resource_key != key:
                continue
            raw = variable.read(env)
            if raw is None:
                if variable.default is not None:
                    values[field] = variable.parse(variable.default)
            elif resolved:
                try:
                    values[field] = int(raw) if variable.is_int else raw
                except ValueError:
                    pass  # left at the field's default; ``config.problems`` names it
            elif variable.is_int:
                values[field] = dg.EnvVar.int(variable.name)
            else:
                values[field] = dg.EnvVar(variable.name)
    return values


def build_resources(
    env: Mapping[str, str] | None = None, *, resolved: bool = False
) -> dict[str, dg.ConfigurableResource]:
    """Every resource, keyed as the assets expect them (see :func:`resource_values`)."""
    return {
        key: cls(**resource_values(key, env, resolved=resolved))
        for key, cls in RESOURCE_CLASSES.items()
    }


@dg.definitions
def resources() -> dg.Definitions:
    """Resource instances shared by all flows."""
    return dg.Definitions(resources=build_resources())
