r"""Remote-path sanitizing: the account folder and every name sent to the server are checked.

A value from configuration never climbs out of the URL folder: no ``/``, ``\``, ``..`` or
control characters in a component, no absolute remote folder.
"""

from __future__ import annotations

import re

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_component(value: str, what: str) -> str:
    """``value`` if it is one safe path component, else ``ValueError`` naming ``what``."""
    if not value or value in {".", ".."}:
        raise ValueError(f"{what} must not be empty, '.' or '..'")
    if "/" in value or "\\" in value or ".." in value or CONTROL_RE.search(value):
        raise ValueError(f"{what} {value!r} must not contain '/', '\\', '..' or control characters")
    return value


def remote_folder(account_id: str) -> str:
    r"""Return the Inventiv drop folder for an account: ``latest<account_id>``.

    Args:
        account_id: Inventiv customer id (``INVENTIV_ACCOUNT_ID``).

    Raises:
        ValueError: Empty, or holds ``/``, ``\\``, ``..`` or control characters.
    """
    if not isinstance(account_id, str) or not account_id.strip():
        raise ValueError("INVENTIV_ACCOUNT_ID must not be empty")
    if account_id != account_id.strip():
        raise ValueError(f"account id {account_id!r} must not start or end with blanks")
    return "latest" + check_component(account_id, "account id")


def split_remote_dir(remote_dir: str) -> list[str]:
    """Split a relative remote folder into checked components ('' → no component)."""
    if remote_dir in {"", "."}:
        return []
    if remote_dir.startswith("/") or "\\" in remote_dir:
        raise ValueError(f"remote folder {remote_dir!r} must be relative to the URL folder")
    return [check_component(p, "remote folder part") for p in remote_dir.strip("/").split("/")]


def unsafe_url_path(path: str) -> bool:
    """Whether a URL's folder holds control characters or a ``..`` component."""
    return bool(CONTROL_RE.search(path)) or any(p == ".." for p in path.split("/"))
