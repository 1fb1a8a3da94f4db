"""The DuckDB warehouse and the local data folder (``QBPA_DATA_DIR``)."""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb

from qbpa_assets import config
from qbpa_assets.lib import retry
from qbpa_assets.lib.master_data.rep_source import RepSource, parse_rep_source

DATABASE_FILE = "qbpa.duckdb"


class WarehouseResource(dg.ConfigurableResource):
    """One DuckDB file per company, plus the folders beside it.

    DuckDB allows one writing process per file. Runs are serialized by the ``duckdb`` pool, but
    a run launched outside the daemon (tests, ``dagster asset materialize``) can still collide,
    so opening the file waits out a lock held by another process instead of failing at once.

    Not ``dagster_duckdb.DuckDBResource``: its ``get_connection`` does not close the connection
    when the block raises (the file stays locked until garbage collection, blocking the next
    step), retries every ``IOException`` (a full disk or a permission error too) ten times
    within about 100 s while another run may hold the lock for minutes, and has no place for
    the data folder beside the file (exports, scratch, token store).
    """

    data_dir: str = "./var"
    timezone: str = "UTC"
    # The partitions are built at import from QBPA_PARTITION_START / QBPA_TIMEZONE, falling
    # back to the defaults on a bad value; the warehouse re-checks both when a run starts so
    # that such a run fails naming the variable instead of running on the wrong windows.
    partition_start: str = "2026-01-01"
    # DuckDB's memory cap, e.g. "512MB" (QBPA_DUCKDB_MEMORY_LIMIT declares the default the
    # Definitions give; None here: DuckDB's own 80 % of RAM). Beyond it DuckDB spills to tmp/.
    memory_limit: str | None = None
    lock_timeout_seconds: float = 600.0

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Fail the run, naming the variable and its allowed values, on a bad setting."""
        config.check_values(
            {
                "QBPA_TIMEZONE": self.timezone,
                "QBPA_PARTITION_START": self.partition_start,
                "QBPA_DUCKDB_MEMORY_LIMIT": self.memory_limit,
            }
        )

    @property
    def root(self) -> Path:
        """The data folder, created on first use."""
        path = Path(self.data_dir).expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def database_path(self) -> Path:
        """Path of the DuckDB file."""
        return self.root / DATABASE_FILE

    @property
    def exports_dir(self) -> Path:
        """Local copies of every file sent to Inventiv."""
        path = self.root / "exports"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @contextlib.contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the DuckDB file, waiting (with jittered backoff) while another process holds it.

        Only the lock is waited out (up to ``lock_timeout_seconds``); any other I/O error is
        raised at once. The connection is closed however the block ends.
        """
        wait = retry.Backoff(attempts=None, budget=self.lock_timeout_seconds, base=0.05, cap=2.0)

        def lock_held(exc: BaseException) -> retry.Backoff | None:
            locked = isinstance(exc, duckdb.IOException) and "lock" in str(exc).lower()
            return wait if locked else None

        con = retry.call(lambda: duckdb.connect(str(self.database_path)), lock_held)
        try:
            # Timestamps written to files read in the partitions' time zone, not the machine's.
            con.execute("SET TimeZone = ?", [self.timezone])
            if self.memory_limit:
                con.execute("SET memory_limit = ?", [self.memory_limit])
            # What does not fit under the limit spills here, beside the data (not to /tmp).
            con.execute("SET temp_directory = ?", [str(self.root / "tmp")])
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def scratch_dir(self, name: str) -> Iterator[Path]:
        """A private folder under the data dir for raw pages, removed afterwards."""
        base = self.root / "scratch"
        base.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=base))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)


class QbpaSettings(dg.ConfigurableResource):
    """Non-secret behaviour switches shared by the flows."""

    mappings_dir: str | None = None
    sales_order_entity: str = "Estimate"
    sales_rep_source: str = "employee"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Fail the run, naming the variable and its allowed values, on a bad setting."""
        config.check_values(
            {
                "QBO_SALES_ORDER_ENTITY": self.sales_order_entity,
                "QBPA_SALES_REP_SOURCE": self.sales_rep_source,
            }
        )

    @property
    def mappings_path(self) -> Path | None:
        """The optional folder of mapping overrides (``QBPA_MAPPINGS_DIR``)."""
        return Path(self.mappings_dir).expanduser() if self.mappings_dir else None

    @property
    def rep_source(self) -> RepSource:
        """Where sales reps come from (``QBPA_SALES_REP_SOURCE``, checked at setup)."""
        return parse_rep_source(self.sales_rep_source)
