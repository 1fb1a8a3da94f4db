"""The one mapping loader: `.fil` layouts and the order mapping, as data.

Every mapping is a TOML file shipped in ``qbpa_assets/mappings/``; a same-named file in the
folder given by ``QBPA_MAPPINGS_DIR`` replaces the packaged default entirely
(:func:`mapping_path`, :func:`load_toml`). Every SQL expression a mapping holds is checked by
:func:`check_expression` to be ONE expression before anything runs: ``x; DROP TABLE y`` is refused
naming the file, the section and the field, and nothing is executed.

A `.fil` layout (:mod:`qbpa_assets.lib.mappings.layouts`, which shows an example) names the
staged table to read and lists the output columns; its structural problems raise `MappingError`
from `load_layout`, those that need the database from `Layout.validate`. The order mapping is
parsed by ``qbpa_assets.lib.orders.mapping`` through the same loader and checker.
"""

from qbpa_assets.lib.mappings.expressions import check_expression
from qbpa_assets.lib.mappings.files import (
    DEFAULT_MAPPINGS_DIR,
    MappingError,
    first_line,
    load_toml,
    mapping_path,
)
from qbpa_assets.lib.mappings.layouts import Column, Layout, layout_path, load_layout, parse_layout

__all__ = [
    "DEFAULT_MAPPINGS_DIR",
    "Column",
    "Layout",
    "MappingError",
    "check_expression",
    "first_line",
    "layout_path",
    "load_layout",
    "load_toml",
    "mapping_path",
    "parse_layout",
]
