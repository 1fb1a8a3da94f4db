"""The warehouse caps DuckDB's memory by default and spills beside the data, not to /tmp.

Without a deliberate cap DuckDB takes 80 % of RAM and the 1,000,000-line export reached 1.3 GB
of RSS; its temporary files went to wherever DuckDB chose.
"""

from __future__ import annotations

from qbpa_assets import config
from qbpa_assets.defs.resources import resource_values
from qbpa_assets.defs.resources.warehouse import WarehouseResource


def _limit_bytes(con, size: str) -> int:
    con.execute("SET memory_limit = ?", [size])
    return con.execute("SELECT current_setting('memory_limit')").fetchone()[0]


def test_declared_default_memory_limit_and_temp_directory(tmp_path):
    declared = next(v for v in config.VARIABLES if v.name == "QBPA_DUCKDB_MEMORY_LIMIT")
    assert declared.default  # a deliberate default, not DuckDB's 80 % of RAM
    values = resource_values("warehouse", env={}, resolved=True)
    assert values["memory_limit"] == declared.default
    warehouse = WarehouseResource(**{**values, "data_dir": str(tmp_path)})
    with warehouse.get_connection() as con:
        limit, temp = con.execute(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchone()
        assert temp == str(tmp_path.resolve() / "tmp")
        assert limit == _limit_bytes(con, declared.default)


def test_the_variable_still_overrides_the_default(tmp_path):
    env = {"QBPA_DUCKDB_MEMORY_LIMIT": "300MB"}
    values = resource_values("warehouse", env=env, resolved=True)
    assert values["memory_limit"] == "300MB"
