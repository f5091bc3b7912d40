"""Files a person can hold in their head (issue 13): the gap report's writer is a package
of short modules behind one public face, and the functions named as too long stay short.
These guard the shape; what the code does is specified by the behaviour tests."""

from __future__ import annotations

import ast
from pathlib import Path

import reports.excel

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80


def _long_functions(path: Path, names: set[str] | None = None) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                names is None or node.name in names):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{path.relative_to(ROOT)}::{node.name} ({length} lines)")
    return found


def test_callers_import_the_gap_report_from_reports_excel_as_before() -> None:
    assert sorted(reports.excel.__all__) == sorted([
        "BREAKDOWN_SHEETS", "BreakdownSheet", "DetailTable", "ReportInput", "ReportMismatch",
        "build_detail", "write_gap_report"])
    for name in reports.excel.__all__:
        assert getattr(reports.excel, name) is not None


def test_no_function_of_the_gap_report_writer_is_over_80_lines() -> None:
    modules = sorted((ROOT / "reports" / "excel").glob("*.py"))
    assert len(modules) > 1, "reports/excel is a package of modules"
    assert [f for path in modules for f in _long_functions(path)] == []


def test_preparing_and_locating_an_import_table_are_split_into_named_steps() -> None:
    assert _long_functions(ROOT / "importers" / "prepare.py", {"prepare_initiatives"}) == []
    assert _long_functions(ROOT / "importers" / "layout.py", {"locate_table"}) == []


_IMPORT_MODULES = ["api", "initiatives", "targets", "reading", "results", "command", "codes"]


def test_callers_import_the_importers_from_importers_api_as_before() -> None:
    import importers.api

    assert sorted(importers.api.__all__) == sorted([
        "BULK_INDEX_THRESHOLD", "MODES", "PREFETCH_MIN_FACTS", "FileOutcome", "ImportParams",
        "ImportResult", "ParsedFile", "import_initiatives", "import_targets", "read_file"])
    for name in importers.api.__all__:
        assert getattr(importers.api, name) is not None


def test_no_function_of_the_import_commands_is_over_80_lines() -> None:
    modules = [ROOT / "importers" / f"{name}.py" for name in _IMPORT_MODULES]
    assert [f for path in modules for f in _long_functions(path)] == []


def test_import_results_hold_data_and_the_interface_words_them() -> None:
    from importers.owner import OwnerImportResult
    from importers.results import ImportResult
    from tledger.cli.imports import describe_import, describe_owner_import

    assert not hasattr(ImportResult, "summary")
    assert not hasattr(OwnerImportResult, "summary")
    assert callable(describe_import)
    assert callable(describe_owner_import)


def test_bulk_loading_is_storage_in_the_ledger_not_in_the_importers() -> None:
    from ledger.bulkload import bulk_loading

    assert callable(bulk_loading)
    sources = {path.name: path.read_text(encoding="utf-8")
               for path in (ROOT / "importers").glob("*.py")}
    assert [name for name, text in sources.items()
            if "sqlite_master" in text or "loaded_beside" in text] == []


def _test_modules() -> list[Path]:
    return sorted((ROOT / "tests").rglob("test_*.py"))


def _imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found += [module] if module else [alias.name for alias in node.names]
            # `from reliability import test_x` names a test module as an imported name.
            found += [f"{module}.{alias.name}" for alias in node.names if module]
    return found


def test_no_test_module_imports_another_test_module() -> None:
    # Shared helpers live in tests/helpers or in fixtures: importing a test module runs its
    # collection-time code and ties one specification to another's private details.
    wrong = [f"{path.relative_to(ROOT)} imports {name}" for path in _test_modules()
             for name in _imported_modules(path)
             if any(part.startswith("test_") for part in name.split("."))]
    assert wrong == []


def test_every_module_named_like_a_test_module_holds_tests() -> None:
    def holds_tests(path: Path) -> bool:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        return any((isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                   and node.name.startswith("test"))
                   or (isinstance(node, ast.ClassDef) and node.name.startswith("Test"))
                   for node in tree.body)

    assert [str(p.relative_to(ROOT)) for p in _test_modules() if not holds_tests(p)] == []
