"""The rows of a ``qbpa check`` report, how they are collected, and the text table."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass

OK, WARN, FAIL, SKIP = "OK", "WARN", "FAIL", "SKIP"
STATUSES = (OK, WARN, FAIL, SKIP)


@dataclass(frozen=True)
class CheckResult:
    """One row of the report.

    Attributes:
        system: ``Settings``, ``QuickBooks``, ``Inventiv FTP``, ``Inventiv DB`` or ``Mappings``.
        check: What was checked.
        status: ``OK``, ``WARN``, ``FAIL`` or ``SKIP`` (not run because an earlier check failed).
        detail: What was found (free of secrets).
        fix: How to fix it; empty when OK.
    """

    system: str
    check: str
    status: str
    detail: str
    fix: str = ""


class Report:
    """Collects the rows of one system, each text passed through the redactor.

    Args:
        system: The system's title, the first column of every row added.
        results: The list the rows are appended to (shared by all systems).
        redact: Removes secrets from every detail and fix.
    """

    def __init__(
        self, system: str, results: list[CheckResult], redact: Callable[[str], str]
    ) -> None:
        self.system = system
        self.results = results
        self.redact = redact

    def add(self, check: str, status: str, detail: str, fix: str = "") -> bool:
        """Record a row; return True when it is not a failure."""
        self.results.append(
            CheckResult(self.system, check, status, self.redact(detail), self.redact(fix))
        )
        return status != FAIL

    def skip(self, checks: Iterable[str], because: str) -> None:
        """Record rows that were not run."""
        for check in checks:
            self.add(check, SKIP, f"not run: {because}")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (its type when the message is empty)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def summary_counts(results: list[CheckResult]) -> dict[str, int]:
    """Rows per status, in the order OK, WARN, FAIL, SKIP."""
    return {s: sum(1 for r in results if r.status == s) for s in STATUSES}


def format_table(results: list[CheckResult], width: int = 100) -> str:
    """Render the rows as a text table, with the fix under each row that is not OK."""
    sys_w = max([len("SYSTEM")] + [len(r.system) for r in results])
    chk_w = max([len("CHECK")] + [len(r.check) for r in results])
    indent = sys_w + chk_w + 4 + 6 + 2
    detail_w = max(30, width - indent)
    lines = [f"{'SYSTEM':<{sys_w}}  {'CHECK':<{chk_w}}  {'STATUS':<6}  DETAIL"]
    for r in results:
        detail = textwrap.wrap(r.detail, detail_w) or [""]
        lines.append(f"{r.system:<{sys_w}}  {r.check:<{chk_w}}  {r.status:<6}  {detail[0]}")
        lines += [" " * indent + more for more in detail[1:]]
        if r.fix and r.status in (FAIL, WARN):
            fix = textwrap.wrap("fix: " + r.fix, detail_w)
            lines += [" " * indent + part for part in fix]
    counts = summary_counts(results)
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in counts.items() if n) or "no checks run")
    return "\n".join(lines)
