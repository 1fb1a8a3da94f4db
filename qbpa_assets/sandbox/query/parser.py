"""The query language's grammar: tokens, the parser and the parsed :class:`Query`.

Supports what integrations actually send::

    SELECT * | COUNT(*) | field, ... FROM Entity
      [WHERE cond AND cond ...]            cond: field (= < > <= >= LIKE) value | field IN (v, ...)
      [ORDERBY | ORDER BY field [ASC|DESC], ...]
      [STARTPOSITION n] [MAXRESULTS n]

Keywords and entity names are case-insensitive; QBO has no OR. A query QBO cannot parse is Fault
4000, a parsed one it refuses (MAXRESULTS over the limit) Fault 4001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from qbpa_assets.lib.quickbooks.limits import QUERY_MAX_RESULTS
from qbpa_assets.sandbox.faults import QUERY_INVALID, QUERY_PARSE_ERROR, Fault

MAX_RESULTS_LIMIT = QUERY_MAX_RESULTS
DEFAULT_MAX_RESULTS = 100


class QueryError(Fault):
    """A query QBO would refuse: a Fault with its ``code``, ``message`` and ``detail``."""

    def __init__(self, code: str, message: str, detail: str) -> None:
        super().__init__(code, message, detail)


def parser_error(detail: str) -> QueryError:
    """Return the Fault QBO sends for a query it cannot parse (4000)."""
    return QueryError(
        QUERY_PARSE_ERROR.code, QUERY_PARSE_ERROR.message, f"QueryParserError: {detail}"
    )


def validation_error(detail: str) -> QueryError:
    """Return the Fault QBO sends for a parsed but invalid query (4001)."""
    return QueryError(QUERY_INVALID.code, QUERY_INVALID.message, f"QueryValidationError: {detail}")


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
