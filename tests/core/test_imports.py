"""Issue 9 §3/§4: the project's import graph stays layered and acyclic, and hand-written SQL stays in
core/db.py. Checked on the source (grimp parses every module's imports, at the top and inside
functions), so a shortcut fails here and not in production:

- the layer contract declared in pyproject.toml ([tool.importlinter], run with import-linter):
  reporting > copytrading > brokers > accounts > compliance > core, portal and nija_site on top;
- no import circle between any two project modules (a strongly connected component of the graph);
- no raw SQL outside core/db.py: no cursor, execute(), .raw(), .extra() or RawSQL;
- project imports at module top, except the few listed in FUNCTION_LEVEL_IMPORTS with their reason.

Tests, migrations and bench/ are outside the rules: tests and benchmarks build worlds directly."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import grimp
import pytest
from django.conf import settings
from importlinter import configuration
from importlinter.application import use_cases

ROOT = Path(settings.BASE_DIR)
PYPROJECT = ROOT / "pyproject.toml"
SKIPPED_PARTS = {"migrations", "tests", "bench", ".venv", "node_modules"}
SQL_HOME = "core/db.py"


def _root_packages() -> list[str]:
    return use_cases.read_user_options(str(PYPROJECT)).session_options["root_packages"]


def _sources() -> list[Path]:
    roots = set(_root_packages())
    return sorted(p for p in ROOT.rglob("*.py")
                  if p.relative_to(ROOT).parts[0] in roots and not SKIPPED_PARTS & set(p.relative_to(ROOT).parts))


def _graph() -> grimp.ImportGraph:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*_root_packages(), exclude_type_checking_imports=True, cache_dir=None)


# --- layers ---------------------------------------------------------------------------------
def layer_violations(report) -> list[str]:
    found = []
    for contract, check in report.get_contracts_and_checks():
        if check.kept:
            continue
        for dependency in check.metadata.get("invalid_dependencies", []):
            for route in dependency["routes"]:
                chain = " -> ".join([route["chain"][0]["importer"]] + [link["imported"] for link in route["chain"]])
                lines = ", ".join(f"l.{n}" for link in route["chain"] for n in link["line_numbers"])
                found.append(f"{contract.name}: {dependency['importer']} may not import {dependency['imported']}: "
                             f"{chain} ({lines})")
        if not check.metadata.get("invalid_dependencies"):
            found.append(f"{contract.name}: broken ({check.metadata})")
    return found


def test_apps_import_only_the_layers_below_them():
    configuration.configure()
    use_cases._register_built_in_contract_types()  # what lint-imports does before reading contracts
    options = use_cases.read_user_options(str(PYPROJECT))
    assert options.contracts_options, "pyproject.toml declares the layer contract"
    report = use_cases.create_report(options, cache_dir=None)
    assert layer_violations(report) == []
    assert not report.contains_failures


# --- cycles ---------------------------------------------------------------------------------
def import_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative): each is a
    set of modules that import one another in a circle."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return sorted(cycles)


def test_no_import_cycle_between_project_modules():
    graph = _graph()
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}

    def link(a: str, b: str) -> str:
        lines = ", ".join(str(d["line_number"]) for d in graph.get_import_details(importer=a, imported=b))
        return f"{a} -> {b} (l.{lines})"

    described = ["circle: " + "; ".join(link(a, b) for a in cycle for b in sorted(edges[a]) if b in cycle)
                 for cycle in import_cycles(edges)]
    assert described == []


@pytest.mark.parametrize(("edges", "expected"), [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}}, [["a", "b"], ["c", "d"]]),
])
def test_the_cycle_finder_finds_every_circle(edges, expected):
    assert import_cycles(edges) == expected


# --- raw SQL --------------------------------------------------------------------------------
SQL_METHODS = {"execute", "executemany", "raw", "extra", "cursor"}
SQL_NAMES = {"RawSQL", "prepared_cursor"}


def raw_sql_uses(source: str) -> list[tuple[int, str]]:
    """(line, what) for each way of running hand-written SQL: a cursor, execute/executemany on
    anything but super() (a management command's own execute), QuerySet.raw/.extra, RawSQL."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in SQL_METHODS:
            receiver = node.func.value
            if isinstance(receiver, ast.Call) and getattr(receiver.func, "id", "") == "super":
                continue
            found.append((node.lineno, f".{node.func.attr}()"))
        elif isinstance(node, ast.Name) and node.id in SQL_NAMES:
            found.append((node.lineno, node.id))
        elif isinstance(node, ast.alias) and node.name.split(".")[-1] in SQL_NAMES:
            found.append((getattr(node, "lineno", 0), node.name))
    return found


def test_raw_sql_only_in_core_db():
    violations = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if rel != SQL_HOME:
            violations += [f"{rel}:{line} uses {what}: put the SQL behind a named function in {SQL_HOME}"
                           for line, what in raw_sql_uses(path.read_text())]
    assert violations == []


@pytest.mark.parametrize(("source", "expected"), [
    ("with connection.cursor() as c:\n    c.execute('SELECT 1')\n", [(1, ".cursor()"), (2, ".execute()")]),
    ("Order.objects.raw('SELECT * FROM x')\n", [(1, ".raw()")]),
    ("Order.objects.extra(where=['1=1'])\n", [(1, ".extra()")]),
    ("from django.db.models.expressions import RawSQL\n", [(1, "RawSQL")]),
    ("from core.db import prepared_cursor\n", [(1, "prepared_cursor")]),
    ("class C:\n    def execute(self):\n        return super().execute()\n", []),
    ("Order.objects.filter(pk=1).update(status='x')\n", []),
])
def test_the_sql_scan_sees_each_way_of_running_sql(source, expected):
    assert raw_sql_uses(source) == expected
