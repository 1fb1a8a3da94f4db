"""The QuickBooks Online query language: parser and evaluator.

Supports what integrations actually send::

    SELECT * | COUNT(*) | field, ... FROM Entity
      [WHERE cond AND cond ...]            cond: field (= < > <= >= LIKE) value | field IN (v, ...)
      [ORDERBY | ORDER BY field [ASC|DESC], ...]
      [STARTPOSITION n] [MAXRESULTS n]

Keywords and entity names are case-insensitive, fields may be dotted (``MetaData.LastUpdatedTime``)
and a reference field (``CustomerRef``) compares its ``value``. Date-times with offsets are
compared as instants, like QBO does.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

MAX_RESULTS_LIMIT = 1000
DEFAULT_MAX_RESULTS = 100

# QBO "list" entities: inactive rows are hidden unless the WHERE clause mentions Active.
LIST_ENTITIES = frozenset(
    {
        "Account",
        "Class",
        "Customer",
        "Department",
        "Employee",
        "Item",
        "PaymentMethod",
        "TaxCode",
        "TaxRate",
        "Term",
        "Vendor",
    }
)


class QueryError(Exception):
    """A query QBO would refuse; carries the Fault ``code``, ``message`` and ``detail``."""

    def __init__(self, code: str, message: str, detail: str) -> None:
        super().__init__(f"{code} {message}: {detail}")
        self.code = code
        self.message = message
        self.detail = detail


def parser_error(detail: str) -> QueryError:
    """Return the Fault QBO sends for a query it cannot parse (4000)."""
    return QueryError("4000", "Error parsing query", f"QueryParserError: {detail}")


def validation_error(detail: str) -> QueryError:
    """Return the Fault QBO sends for a parsed but invalid query (4001)."""
    return QueryError("4001", "Invalid query", f"QueryValidationError: {detail}")


@dataclass(frozen=True)
class Condition:
    """One ``field op value`` term of a WHERE clause (``values`` holds the IN list)."""

    path: tuple[str, ...]
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Query:
    """A parsed query."""

    entity: str
    count: bool = False
    fields: tuple[str, ...] | None = None  # None means "*"
    conditions: tuple[Condition, ...] = ()
    order: tuple[tuple[tuple[str, ...], bool], ...] = ()  # (path, descending)
    start_position: int = 1
    max_results: int = DEFAULT_MAX_RESULTS

    @property
    def mentions_active(self) -> bool:
        """Whether the WHERE clause filters on ``Active`` (which reveals inactive rows)."""
        return any(c.path == ("Active",) for c in self.conditions)

    @property
    def result_key(self) -> tuple[Any, ...]:
        """A hashable key of everything that decides the ordered result (not the page)."""
        return (self.entity, self.conditions, self.order)


_TOKEN_RE = re.compile(
    r"""
    \s*(?:
      (?P<string>'(?:[^'\\]|\\.|'')*')
    | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),*])
    | (?P<word>[A-Za-z_][\w.]*)
    )""",
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    pos = 0
    text = text.strip().rstrip(";")
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise parser_error(f'Encountered " {text[pos : pos + 20]!r} " at column {pos + 1}.')
        kind = m.lastgroup or ""
        raw = m.group(kind)
        if kind == "string":
            body = raw[1:-1]
            value: Any = re.sub(r"\\(.)", r"\1", body.replace("''", "'"))
        elif kind == "number":
            value = float(raw) if "." in raw else int(raw)
        else:
            value = raw
        tokens.append((kind, value))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, what: str) -> tuple[str, Any]:
        tok = self.peek()
        if tok is None:
            raise parser_error(f"Encountered <EOF>, was expecting {what}.")
        self.i += 1
        return tok

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() in words:
            self.i += 1
            return True
        return False

    def expect_keyword(self, word: str) -> None:
        if not self.keyword(word):
            tok = self.peek()
            found = "<EOF>" if tok is None else str(tok[1])
            raise parser_error(f'Encountered " {found} " , was expecting "{word}".')

    def expect_punct(self, ch: str) -> None:
        kind, value = self.next(f'"{ch}"')
        if kind != "punct" or value != ch:
            raise parser_error(f'Encountered " {value} ", was expecting "{ch}".')

    def field_path(self) -> tuple[str, ...]:
        kind, value = self.next("a field name")
        if kind != "word":
            raise parser_error(f'Encountered " {value} ", was expecting a field name.')
        return tuple(value.split("."))

    def literal(self) -> Any:
        kind, value = self.next("a value")
        if kind in ("string", "number"):
            return value
        if kind == "word" and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise parser_error(f'Encountered " {value} ", was expecting a value.')

    def integer(self, clause: str) -> int:
        kind, value = self.next(f"a number after {clause}")
        if kind != "number" or not isinstance(value, int):
            raise parser_error(f'Encountered " {value} ", {clause} needs an integer.')
        return value

    def parse(self) -> Query:
        self.expect_keyword("SELECT")
        count = False
        fields: list[str] | None = None
        tok = self.peek()
        if tok and tok[0] == "word" and tok[1].upper() == "COUNT":
            self.i += 1
            self.expect_punct("(")
            self.expect_punct("*")
            self.expect_punct(")")
            count = True
        else:
            star = False
            fields = []
            while True:
                kind, value = self.next("* or a field name")
                if kind == "punct" and value == "*":
                    star = True
                elif kind == "word" and value.upper() != "FROM":
                    fields.append(value)
                else:
                    raise parser_error(f'Encountered " {value} ", was expecting a field list.')
                tok = self.peek()
                if tok == ("punct", ","):
                    self.i += 1
                    continue
                break
            if star:
                # python-quickbooks sends "SELECT *, Sku FROM Item": * wins.
                fields = None
        self.expect_keyword("FROM")
        kind, entity = self.next("an entity name")
        if kind != "word":
            raise parser_error(f'Encountered " {entity} ", was expecting an entity name.')
        conditions: list[Condition] = []
        order: list[tuple[tuple[str, ...], bool]] = []
        start, max_results = 1, DEFAULT_MAX_RESULTS
        if self.keyword("WHERE"):
            while True:
                conditions.append(self.condition())
                if not self.keyword("AND"):
                    break
                # QBO has no OR; an OR is a parse error below.
        seen: set[str] = set()
        while self.peek() is not None:
            if self.keyword("ORDERBY") or (self.keyword("ORDER") and self._by()):
                if "order" in seen:
                    raise parser_error("ORDERBY given twice.")
                seen.add("order")
                while True:
                    path = self.field_path()
                    desc = False
                    if self.keyword("DESC"):
                        desc = True
                    else:
                        self.keyword("ASC")
                    order.append((path, desc))
                    if self.peek() == ("punct", ","):
                        self.i += 1
                        continue
                    break
            elif self.keyword("STARTPOSITION"):
                start = self.integer("STARTPOSITION")
                seen.add("start")
            elif self.keyword("MAXRESULTS"):
                max_results = self.integer("MAXRESULTS")
                seen.add("max")
            else:
                _, value = self.next("end of query")
                raise parser_error(f'Encountered " {value} " at the end of the query.')
        if max_results > MAX_RESULTS_LIMIT:
            raise validation_error(
                f"value {max_results} is too large. Max allowed value is {MAX_RESULTS_LIMIT}"
            )
        if max_results < 0 or start < 1:
            raise validation_error("STARTPOSITION must be >= 1 and MAXRESULTS >= 0")
        return Query(
            entity=entity,
            count=count,
            fields=None if fields is None else tuple(fields),
            conditions=tuple(conditions),
            order=tuple(order),
            start_position=start,
            max_results=max_results,
        )

    def _by(self) -> bool:
        self.expect_keyword("BY")
        return True

    def condition(self) -> Condition:
        path = self.field_path()
        if self.keyword("IN"):
            self.expect_punct("(")
            values = [self.literal()]
            while self.peek() == ("punct", ","):
                self.i += 1
                values.append(self.literal())
            self.expect_punct(")")
            return Condition(path, "IN", tuple(values))
        if self.keyword("LIKE"):
            value = self.literal()
            if not isinstance(value, str):
                raise parser_error("LIKE needs a quoted string.")
            return Condition(path, "LIKE", (value,))
        kind, op = self.next("an operator")
        if kind != "op" or op in ("!=", "<>"):
            raise parser_error(f'Encountered " {op} ", was expecting an operator.')
        return Condition(path, op, (self.literal(),))


def parse_query(text: str) -> Query:
    """Parse a QBO query.

    Args:
        text: The query text, e.g. ``select * from Customer where Active = true``.

    Returns:
        The parsed query (entity name as written; callers resolve its case).

    Raises:
        QueryError: 4000 for syntax errors, 4001 for values QBO refuses (MAXRESULTS > 1000).
    """
    return _Parser(text).parse()


# --------------------------------------------------------------------------- evaluation

_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@functools.lru_cache(maxsize=1_000_000)
def instant(text: str) -> float:
    """Return the POSIX timestamp of an ISO date-time (naive means UTC), or NaN if invalid."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return float("nan")
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def get_path(obj: dict[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at a dotted path; a reference dict yields its ``value``."""
    value: Any = obj
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
        if value is None:
            return None
    if isinstance(value, dict) and "value" in value:
        return value["value"]
    return value


def _coerce_pair(field_value: Any, literal: Any, path: tuple[str, ...]) -> tuple[Any, Any] | None:
    """Bring a stored value and a literal to comparable types (None: not comparable)."""
    if field_value is None:
        return None
    if isinstance(literal, bool):
        if isinstance(field_value, bool):
            return field_value, literal
        return str(field_value).lower() == "true", literal
    if isinstance(literal, (int, float)):
        try:
            return float(field_value), float(literal)
        except (TypeError, ValueError):
            return None
    if isinstance(field_value, bool):
        return field_value, str(literal).lower() == "true"
    if isinstance(field_value, (int, float)):
        try:
            return float(field_value), float(literal)
        except ValueError:
            return None
    text = str(field_value)
    if _DATETIME_RE.match(text) and (_DATETIME_RE.match(literal) or _DATE_RE.match(literal)):
        return instant(text), instant(literal)
    if path[-1] == "Id" and text.isdigit() and literal.isdigit():
        return int(text), int(literal)
    return text, literal


def _like_regex(pattern: str) -> re.Pattern[str]:
    parts = [re.escape(p) for p in pattern.split("%")]
    return re.compile("^" + ".*".join(parts) + "$", re.IGNORECASE | re.DOTALL)


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}


def compile_condition(cond: Condition) -> Callable[[dict[str, Any]], bool]:
    """Return a predicate over stored objects for one condition."""
    path = cond.path
    if cond.op == "LIKE":
        regex = _like_regex(cond.values[0])

        def like(obj: dict[str, Any]) -> bool:
            value = get_path(obj, path)
            return value is not None and regex.match(str(value)) is not None

        return like
    if cond.op == "IN":
        literals = cond.values

        def in_(obj: dict[str, Any]) -> bool:
            value = get_path(obj, path)
            for lit in literals:
                pair = _coerce_pair(value, lit, path)
                if pair is not None and pair[0] == pair[1]:
                    return True
            return False

        return in_
    op = _OPS[cond.op]
    literal = cond.values[0]

    def compare(obj: dict[str, Any]) -> bool:
        pair = _coerce_pair(get_path(obj, path), literal, path)
        if pair is None:
            return False
        try:
            return op(pair[0], pair[1])
        except TypeError:
            return False

    return compare


def _sort_key(path: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    def key(obj: dict[str, Any]) -> tuple[int, Any]:
        value = get_path(obj, path)
        if value is None:
            return (0, 0)
        if isinstance(value, (bool, int, float)):
            return (1, float(value))
        text = str(value)
        if path[-1] == "Id" and text.isdigit():
            return (1, int(text))
        if _DATETIME_RE.match(text):
            return (1, instant(text))
        return (2, text.casefold())

    return key


def evaluate(query: Query, rows: Iterable[dict[str, Any]], *, hide_inactive: bool) -> list[Any]:
    """Filter and order rows for a query (paging is the caller's job).

    Args:
        query: The parsed query.
        rows: The stored objects of the entity, in their natural (Id) order.
        hide_inactive: Drop rows with ``Active == False`` (the QBO list-entity rule).

    Returns:
        The matching rows, ordered.
    """
    predicates = [compile_condition(c) for c in query.conditions]
    if hide_inactive:
        predicates.insert(0, lambda obj: obj.get("Active", True) is not False)
    if predicates:
        result = [obj for obj in rows if all(p(obj) for p in predicates)]
    else:
        result = list(rows)
    # Stable sorts applied last-key-first give a multi-key order with per-key direction.
    for path, desc in reversed(query.order):
        result.sort(key=_sort_key(path), reverse=desc)
    return result


def project(obj: dict[str, Any], fields: tuple[str, ...] | None) -> dict[str, Any]:
    """Return ``obj`` reduced to the selected top-level fields (QBO marks it sparse)."""
    if fields is None:
        return obj
    out: dict[str, Any] = {}
    for name in fields:
        top = name.split(".")[0]
        for key in obj:
            if key.lower() == top.lower():
                out[key] = obj[key]
    for key in ("Id", "domain"):
        if key in obj:
            out.setdefault(key, obj[key])
    out["sparse"] = True
    return out
