"""The qbpa code location: everything under ``defs/`` is discovered and loaded."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Load every flow's assets, checks, jobs, schedules, sensors and resources from ``defs/``."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
