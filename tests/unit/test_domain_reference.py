"""docs/domain.md's table of rules is true of the code: every rule the code applies has a row, and every
row names code and tests that exist."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from services.departure.rules import MISSION_RULES
from services.placement import matching, openings
from services.placement.domain import selection_problems
from services.vetting.rules import RULES

ROOT = Path(__file__).resolve().parents[2]
ROW = re.compile(r"^\| (?P<rule>[^|]+) \| [^|]+ \| (?P<code>[^|]+) \| (?P<tests>[^|]+) \|$")


def rows() -> list[tuple[str, list[str], list[str]]]:
    """The table's rows: the rule, the code it names, the tests it names."""
    text = (ROOT / "docs" / "domain.md").read_text(encoding="utf-8")
    table = text.split("## The rules in the code", 1)[1].split("\n## ", 1)[0]
    found = []
    for line in table.splitlines():
        if (match := ROW.match(line)) and not line.startswith(("| rule", "|---")):
            names = lambda cell: re.findall(r"`([^`]+)`", cell)  # noqa: E731
            found.append((match["rule"], names(match["code"]), names(match["tests"])))
    return found


def test_the_table_has_rows_naming_code_and_tests() -> None:
    assert len(rows()) >= 10
    assert all(code and tests for _, code, tests in rows())


def test_every_rule_the_code_applies_has_a_row() -> None:
    named = {ref for _, code, _ in rows() for ref in code}
    applied = {f"services/vetting/rules.py::{rule.__name__}" for scheme in RULES.values() for rule in scheme}
    applied |= {
        f"services/placement/matching.py::{f.__name__}" for f in (matching.unlawful, matching.mismatches)
    }
    applied.add(f"services/placement/openings.py::{openings.unlawful.__name__}")
    applied |= {f"services/departure/rules.py::{rule.__name__}" for rule in MISSION_RULES}
    applied.add(f"services/placement/domain.py::{selection_problems.__name__}")
    assert applied - named == set()


def test_every_row_names_code_that_exists() -> None:
    for rule, code, _ in rows():
        for ref in code:
            path, name = ref.split("::")
            module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
            assert hasattr(module, name), f"{rule}: {ref} does not exist"


def test_every_row_names_tests_that_exist() -> None:
    for rule, _, tests in rows():
        for ref in tests:
            path, name = ref.split("::")
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            defined = {
                n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            }
            assert name in defined, f"{rule}: {ref} does not exist"
