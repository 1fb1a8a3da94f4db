"""``qbpa config``: every declared setting, its value (secrets hidden), source and validity.

``qbpa config --markdown`` prints the README's Configuration table from the declarations.
"""

from __future__ import annotations

import argparse
import os
import sys

from qbpa_assets import config
from qbpa_assets.lib.envfile import read_env_file
from qbpa_assets.lib.redact import Redactor


def readme_table() -> str:
    """The README's configuration table, generated from the declarations."""
    lines = [
        "| variable | meaning | allowed values | default | secret |",
        "|---|---|---|---|---|",
    ]
    for v in config.VARIABLES:
        default = f"`{v.default}`" if v.default is not None else ""
        secret = "yes" if v.secret else ""
        lines.append(f"| `{v.name}` | {v.meaning} | {v.allowed} | {default} | {secret} |")
    return "\n".join(lines)


def rows(env=None) -> list[tuple[str, str, str, str]]:
    """``(variable, shown value, source, status)`` of every declared variable."""
    env = os.environ if env is None else env
    path = config.env_file_path(env)
    from_file = read_env_file(path) if path.is_file() else {}
    from qbpa_assets.ops_cli.check.settings import env_secrets

    redact = Redactor(env_secrets(env))  # a password inside a connection string or URL
    out = []
    for variable in config.VARIABLES:
        raw = variable.read(env)
        if raw is None:
            shown = variable.default if variable.default is not None else ""
            source = "default" if variable.default is not None else "unset"
        else:
            shown = "***" if variable.secret else redact(raw)
            source = path.name if from_file.get(variable.name, "").strip() == raw else "environment"
        try:
            variable.value(env)
            status = "ok"
        except config.ConfigError as exc:
            status = f"INVALID: allowed {exc.allowed}"
        out.append((variable.name, shown, source, status))
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the settings; exit 1 when one is invalid."""
    parser = argparse.ArgumentParser(prog="qbpa config", description=__doc__)
    parser.add_argument(
        "--markdown", action="store_true", help="print the README's Configuration table"
    )
    args = parser.parse_args(argv)
    if args.markdown:
        sys.stdout.write(readme_table() + "\n")
        return 0
    table = rows()
    widths = [max(len(r[i]) for r in table) for i in range(3)]
    for name, shown, source, status in table:
        line = f"{name:<{widths[0]}}  {shown:<{widths[1]}}  {source:<{widths[2]}}  {status}"
        sys.stdout.write(line.rstrip() + "\n")
    return 1 if any(r[3] != "ok" for r in table) else 0
