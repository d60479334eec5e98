"""The formula-safe Excel writer moved to cobuild/xlsx.py (every app's lists export through it)."""

from cobuild.xlsx import RISKY_START, XLSX, add_sheet, workbook_response

__all__ = ["RISKY_START", "XLSX", "add_sheet", "workbook_response"]
