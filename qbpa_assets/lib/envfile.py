"""Reading an environment file: ``KEY=value`` lines, the format of systemd's EnvironmentFile."""

from __future__ import annotations

import os
import re
from pathlib import Path

_ASSIGNMENT = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def read_env_file(path: Path) -> dict[str, str]:
    """The ``KEY=value`` lines of an environment file.

    Blank lines and ``#`` comments are skipped, an ``export`` prefix is allowed, and one pair
    of surrounding quotes is removed, so one file serves systemd, ``make`` and ``qbpa``.

    Args:
        path: The file.

    Returns:
        The assignments in file order (a later one wins).
    """
    values: dict[str, str] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ASSIGNMENT.match(line)
        if match:
            key, raw = match.groups()
            if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
                raw = raw[1:-1]
            values[key] = raw
    return values


def load_env_file(path: Path, env: dict[str, str] | None = None) -> Path | None:
    """Read ``path`` into ``env`` (default ``os.environ``); variables already set win.

    Returns:
        The file read (resolved), or None when there is none.
    """
    env = os.environ if env is None else env
    if not Path(path).is_file():
        return None
    for key, raw in read_env_file(path).items():
        env.setdefault(key, raw)
    return Path(path).resolve()
