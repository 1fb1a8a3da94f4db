"""Mapping files: the packaged defaults, overrides in ``QBPA_MAPPINGS_DIR``, and their errors.

A same-named file in the overrides folder replaces the packaged default entirely.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

#: Folder of the mappings shipped with the package.
DEFAULT_MAPPINGS_DIR = Path(__file__).resolve().parent.parent.parent / "mappings"


class MappingError(ValueError):
    """A mapping file is invalid; the message names the file and, where known, the field.

    Args:
        file: The mapping file.
        message: What is wrong.
        column: The column (layouts) or field (order mapping) at fault, if known.
        section: The TOML section of ``column`` (order mapping: ``header``, ``line``...).
    """

    def __init__(
        self,
        file: str | Path,
        message: str,
        column: str | None = None,
        section: str | None = None,
    ) -> None:
        self.file = str(file)
        self.column = column
        self.section = section
        if section is not None:
            where = f"{self.file}: [{section}] " + (f"{column}: " if column is not None else "")
        elif column is not None:
            where = f"{self.file}: column {column!r}: "
        else:
            where = f"{self.file}: "
        super().__init__(where + message)


def first_line(exc: BaseException) -> str:
    """The first line of an error's text (or its type name)."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def mapping_path(file: str, overrides_dir: Path | str | None = None) -> tuple[Path, bool]:
    """Return the file a mapping is read from, and whether it is an override.

    Args:
        file: The mapping's file name (``customer.fil.toml``, ``orders.toml``).
        overrides_dir: Optional folder (``QBPA_MAPPINGS_DIR``) whose same-named file replaces
            the packaged default.

    Raises:
        MappingError: The name is not a plain file name, or no such mapping exists.
    """
    if "/" in file or "\\" in file or file.startswith("."):
        raise MappingError(file, "mapping name must be a plain file name")
    if overrides_dir:
        candidate = Path(overrides_dir) / file
        if candidate.is_file():
            return candidate, True
    default = DEFAULT_MAPPINGS_DIR / file
    if not default.is_file():
        raise MappingError(default, "no such layout")
    return default, False


def load_toml(path: Path) -> dict[str, Any]:
    """Parse a mapping file.

    Raises:
        MappingError: The file cannot be read or is not valid TOML (naming the file).
    """
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(path, f"not valid TOML: {exc}") from None
    except OSError as exc:
        raise MappingError(path, f"cannot be read: {exc.strerror or exc}") from None
