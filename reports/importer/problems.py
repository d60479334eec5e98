"""What an import reports: problems tied to a cell, and refusals of the whole file."""

from dataclasses import dataclass


class Refused(Exception):
    """The file as a whole cannot be imported (not an .xlsx, too large, a zip bomb …)."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Problem:
    """One thing wrong, where it is: sheet, row (1-based as Excel shows it), column, value."""

    sheet: str
    row: int | None
    column: str  # the column letter, "" when the problem is the whole row or sheet
    header: str
    value: str
    reason: str

    @property
    def cell(self):
        return f"{self.column}{self.row}" if self.column and self.row else ""
