"""The ``qbpa`` command line: one entry point, each sub-command in the module that owns it.

Before any sub-command runs, the environment file (``QBPA_ENV_FILE``, default ``./qbpa.env``)
is read into the environment; variables already set win. The same file serves the systemd
units (``EnvironmentFile=``) and ``make dev``.
"""

from __future__ import annotations

import importlib
import sys

# sub-command -> (module, function, one-line help). Modules are imported lazily so that
# ``qbpa sandbox serve`` does not pay for importing Dagster.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "sandbox": ("qbpa_assets.sandbox.cli", "main", "run the bundled QuickBooks Online emulator"),
    "demo": ("qbpa_assets.demo", "main", "run every flow end to end on the emulator"),
    "dev": ("qbpa_assets.dev", "main", "open the Dagster UI (your company, or the sandbox)"),
    "instance-yaml": ("qbpa_assets.demo", "instance_yaml_main", "print the local dagster.yaml"),
    "authorize": ("qbpa_assets.ops_cli.authorize", "main", "connect a QuickBooks company (OAuth)"),
    "check": ("qbpa_assets.ops_cli.check", "main", "check configuration and connectivity"),
    "config": ("qbpa_assets.ops_cli.show_config", "main", "show every setting and its source"),
}


def version() -> str:
    """The installed version of the ``qbpa_assets`` distribution."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("qbpa_assets")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown (not installed)"


def usage() -> str:
    """Return the top-level help text."""
    lines = ["usage: qbpa [--version] COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<14} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "Settings are read from the environment and ./qbpa.env (QBPA_ENV_FILE)."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``qbpa COMMAND ARGS...`` to the module that implements COMMAND."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help", "help"}:
        sys.stdout.write(usage() + "\n")
        return 0
    if argv[0] in {"--version", "-V"}:
        sys.stdout.write(f"qbpa {version()}\n")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        sys.stderr.write(f"qbpa: unknown command {name!r}\n\n{usage()}\n")
        return 2
    from qbpa_assets import config
    from qbpa_assets.lib.envfile import load_env_file

    load_env_file(config.env_file_path())
    module_name, func_name, _ = COMMANDS[name]
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
