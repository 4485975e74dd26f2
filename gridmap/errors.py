"""Errors a user can fix: bad input files, bad options.

Every such error names the file, the row or feature and the field, so the CLI can print one clear
line and exit 2 without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file.

    >>> print(Problem("a.csv", "not a 6/9/12-digit division code", row=3, field="code"))
    a.csv: row 3: field code: not a 6/9/12-digit division code
    """

    file: str
    message: str
    row: int | None = None
    feature: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.feature is not None:
            parts.append(f"feature {self.feature}")
        if self.field:
            parts.append(f"field {self.field}")
        parts.append(self.message)
        return ": ".join(parts)


@dataclass
class InputError(Exception):
    """Bad input: one or more problems, each naming where it is. The CLI exits 2 on it."""

    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def one(cls, file: str, message: str, **where) -> InputError:
        return cls([Problem(str(file), message, **where)])

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)
