"""The QuickBooks Online query language: ``parser.py`` (grammar) and ``evaluate.py`` (meaning)."""

from __future__ import annotations

from qbpa_assets.sandbox.query.evaluate import (
    LIST_ENTITIES,
    compile_condition,
    evaluate,
    get_path,
    instant,
    project,
)
from qbpa_assets.sandbox.query.parser import (
    DEFAULT_MAX_RESULTS,
    MAX_RESULTS_LIMIT,
    Condition,
    Query,
    QueryError,
    parse_query,
    parser_error,
    validation_error,
)

__all__ = [
    "DEFAULT_MAX_RESULTS",
    "LIST_ENTITIES",
    "MAX_RESULTS_LIMIT",
    "Condition",
    "Query",
    "QueryError",
    "compile_condition",
    "evaluate",
    "get_path",
    "instant",
    "parse_query",
    "parser_error",
    "project",
    "validation_error",
]
