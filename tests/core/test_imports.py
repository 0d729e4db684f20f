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
import tomllib
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
    # Read here, not through import-linter's options reader: that one works only once
    # configuration.configure() has run, i.e. not in a worker that starts on the tests below.
    return tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["root_packages"]


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


# --- imports at module top ------------------------------------------------------------------
# The only function-level imports of project modules, each keyed (file, function, imported module),
# with why it cannot sit at the top. Everything else goes at the top, where the dependency graph shows.
FUNCTION_LEVEL_IMPORTS = {
    ("accounts/apps.py", "ready", "accounts.roles"):
        "roles imports django.contrib.auth.models: models exist only once the app registry is loaded",
    ("compliance/apps.py", "ready", "compliance.tasks"):
        "tasks imports the models, which exist only once the app registry is loaded",
    ("copytrading/apps.py", "ready", "copytrading.tasks"):
        "tasks imports the models, which exist only once the app registry is loaded",
    ("reporting/apps.py", "ready", "reporting.tasks"):
        "tasks imports the models, which exist only once the app registry is loaded",
    ("nija_site/apps.py", "ready", "nija_site.staff_pages"):
        "the staff pages import the models, which exist only once the app registry is loaded",
    ("security/apps.py", "ready", "security.services"):
        "services imports the models, which exist only once the app registry is loaded",
}


def function_level_imports(source: str, module: str, is_package: bool, roots: set[str]) -> list[tuple[int, str, str]]:
    """(line, enclosing function, imported module) for each import of a project module inside a
    function body (methods and nested functions included; TYPE_CHECKING blocks at the top are not
    function bodies). Relative imports are resolved against `module`."""
    package = module if is_package else module.rpartition(".")[0]
    found = []

    def resolved(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        if node.level == 0:
            return [node.module or ""]
        base = package.split(".")[: len(package.split(".")) - (node.level - 1)] if package else []
        name = ".".join(base + ([node.module] if node.module else []))
        # `from . import tasks` imports the submodule tasks: name it, as grimp does.
        return [f"{name}.{alias.name}" for alias in node.names] if not node.module else [name]

    def visit(node: ast.AST, function: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Lambda):
                visit(child, "<lambda>")
                continue
            if function and isinstance(child, ast.Import | ast.ImportFrom):
                found.extend((child.lineno, function, name) for name in resolved(child)
                             if name.split(".")[0] in roots)
            visit(child, function)

    visit(ast.parse(source), None)
    return found


def _function_level_imports_found() -> dict[tuple[str, str, str], int]:
    roots = set(_root_packages())
    found = {}
    for path in _sources():
        rel = path.relative_to(ROOT)
        module = ".".join(rel.with_suffix("").parts).removesuffix(".__init__")
        for line, function, imported in function_level_imports(path.read_text(), module, rel.name == "__init__.py",
                                                               roots):
            found.setdefault((rel.as_posix(), function, imported), line)
    return found


def test_project_imports_sit_at_module_top():
    found = _function_level_imports_found()
    assert [f"{path}:{line} imports {imported} inside {function}(): move it to the module top (or, if it breaks "
            f"a cycle with Django's app loading, list it in FUNCTION_LEVEL_IMPORTS with the reason)"
            for (path, function, imported), line in sorted(found.items())
            if (path, function, imported) not in FUNCTION_LEVEL_IMPORTS
            ] == []


def test_the_function_level_import_allow_list_names_only_imports_that_exist():
    found = _function_level_imports_found()
    assert sorted(set(FUNCTION_LEVEL_IMPORTS) - set(found)) == []


@pytest.mark.parametrize(("source", "module", "is_package", "expected"), [
    ("import accounts.models\n", "brokers.services", False, []),
    ("def f():\n    import accounts.models\n", "brokers.services", False, [(2, "f", "accounts.models")]),
    ("def f():\n    import json\n    from django.db import models\n", "brokers.services", False, []),
    ("def f():\n    from .clients.locks import x\n", "brokers.services", False, [(2, "f", "brokers.clients.locks")]),
    ("def f():\n    from . import tasks\n", "compliance.apps", False, [(2, "f", "compliance.tasks")]),
    ("def f():\n    from .paper import P\n", "brokers.clients.registry", False, [(2, "f", "brokers.clients.paper")]),
    ("def f():\n    from .. import crypto\n", "brokers.clients.registry", False, [(2, "f", "brokers.crypto")]),
    ("def f():\n    from .x import y\n", "core", True, [(2, "f", "core.x")]),
    ("class C:\n    def m(self):\n        if True:\n            from core import db\n", "brokers.x", False,
     [(4, "m", "core")]),
    ("def f():\n    def g():\n        from core.db import q\n", "brokers.x", False, [(3, "g", "core.db")]),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from accounts.models import Account\n",
     "brokers.x", False, []),
])
def test_the_import_scan_sees_each_function_level_project_import(source, module, is_package, expected):
    roots = {"accounts", "brokers", "compliance", "core"}
    assert function_level_imports(source, module, is_package, roots) == expected
