"""``qbpa dev`` (what ``make dev`` runs): the Dagster UI (webserver + daemon) on one machine.

Two setups, and the first line printed says which one is running:

* **Your company**, when ``QBO_CLIENT_ID`` is set (in the environment or ``qbpa.env``): the UI
  runs on those settings as they are; nothing is created or deleted.
* **The sandbox** otherwise (or with ``--sandbox``): the bundled emulator serves the demo's
  sample company, a demo Inventiv database is created, and the master data is built before the
  UI opens. The sandbox lives in its own folder, ``$QBPA_DATA_DIR/dev`` (default
  ``./var/dev``), never the demo's ``var/demo``: a ``make demo`` and a ``make dev`` do not
  delete each other's results. Because the emulator keeps its company in memory, the sandbox
  folder starts afresh at each start (said on screen), and ``<folder>/qbpa.env`` holds its
  settings while it runs, so ``QBPA_ENV_FILE=var/dev/qbpa.env qbpa check`` checks this setup.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from qbpa_assets.demo import (
    DEMO_COMPANY,
    _create_demo_db,
    _load_defs_and_instance,
    _reset,
    _run_job,
    _say,
    demo_environment,
)


def _stop_group(proc: subprocess.Popen, grace: float = 30.0) -> int:
    """Interrupt a process group (as Ctrl-C would), then kill what is still there."""
    _say("Stopping Dagster …")
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=grace)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        # Some Dagster children outlive an interrupt; nothing of ours must keep running.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return proc.wait()


def _serve_ui(port: int) -> int:
    """``dagster dev`` until Ctrl-C or SIGTERM, in a process group of its own.

    The group lets a stop reach its webserver, daemon, code servers and run workers, and only
    them.
    """
    ui = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dagster")),
            "dev",
            "-w",
            "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        start_new_session=True,
    )

    def _interrupt(signum, frame):  # a service manager's SIGTERM stops it like Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return ui.wait()
    except KeyboardInterrupt:
        return _stop_group(ui)


def _write_env_file(path: Path, env: dict[str, str]) -> None:
    """The sandbox's settings in ``qbpa.env`` form (mode 0600: it holds the emulator's keys)."""
    lines = ["# Settings of the running `qbpa dev` sandbox (rewritten at each start)."]
    lines += [f"{key}={value}" for key, value in sorted(env.items())]
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def _sandbox(data_dir: Path, port: int) -> int:
    _reset(data_dir)
    _say(
        f"qbpa dev — sandbox in {data_dir} (started afresh: the emulator keeps its company in "
        "memory; the demo's results are not touched)"
    )
    sizes = [arg for size, n in DEMO_COMPANY.items() for arg in (f"--{size}", str(n))]
    emulator = subprocess.Popen(
        [sys.executable, "-m", "qbpa_assets.cli", "sandbox", "serve"]
        + ["--workdir", str(data_dir / "sandbox"), *sizes],
        stdout=subprocess.PIPE,
        text=True,
    )
    env_file = data_dir / "qbpa.env"
    try:
        info = json.loads(emulator.stdout.readline())
        from qbpa_assets.sandbox.company import generate_company
        from qbpa_assets.sandbox.emulator import client_env

        # The same seed and sizes: the database's orders reference the served company.
        db_connection = _create_demo_db(data_dir, generate_company(**DEMO_COMPANY))
        settings = demo_environment(data_dir, client_env(info), db_connection)
        # Set here, so that both the run below and dagster dev (which inherits it) see them.
        os.environ.update(settings)
        _write_env_file(env_file, settings)
        # Build the master data once before the UI opens, so the new-order sensor's first runs
        # find the staged customers and items they validate orders against.
        _run_job(*_load_defs_and_instance(), "nightly_master_data_job")
        _say(f"Emulator on {info['base_url']}; Dagster UI on http://127.0.0.1:{port}")
        _say(f"Check this setup while it runs: QBPA_ENV_FILE={env_file} qbpa check")
        return _serve_ui(port)
    finally:
        env_file.unlink(missing_ok=True)
        emulator.terminate()
        emulator.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    """Open the Dagster UI on your company's settings, or on the sandbox."""
    parser = argparse.ArgumentParser(prog="qbpa dev", description=__doc__)
    parser.add_argument("--data-dir", help="the sandbox's folder (default $QBPA_DATA_DIR/dev)")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument(
        "--sandbox", action="store_true", help="use the emulator even when QBO_CLIENT_ID is set"
    )
    args = parser.parse_args(argv)
    if os.environ.get("QBO_CLIENT_ID") and not args.sandbox:
        data = os.environ.get("QBPA_DATA_DIR") or "./var"
        _say(
            f"qbpa dev — your company's settings (environment and qbpa.env), data in {data}; "
            f"Dagster UI on http://127.0.0.1:{args.port} (`qbpa dev --sandbox` for the emulator)"
        )
        return _serve_ui(args.port)
    folder = Path(args.data_dir or Path(os.environ.get("QBPA_DATA_DIR") or "./var") / "dev")
    folder = folder.expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return _sandbox(folder, args.port)
