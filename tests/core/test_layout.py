"""DESIGN.md §3, issue 9 §1: each app's selectors.py (reads) and services.py (writes) are the only
door into its tables. Enforced on the source itself (an AST scan), so a shortcut fails here:

- no module outside app X imports X.models (at module top or inside a function), except the
  entries of ALLOWED_MODEL_IMPORTS, each with its reason; an import under `if TYPE_CHECKING:` is
  a type hint only and never runs;
- views, API views, admin, tasks and commands run no ORM query of their own (`Model.objects`):
  they call selectors and services. Django's auth models are not domain tables.

Migrations, tests and bench/ scripts are outside the rule: migrations are generated, tests and
benchmarks build worlds directly."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
SKIPPED_PARTS = {"migrations", "tests", "bench", ".venv", "node_modules"}

# (importing module, imported models module) -> why it may
ALLOWED_MODEL_IMPORTS: dict[tuple[str, str], str] = {
    ("accounts/admin.py", "compliance.models"):
        "the account page shows its communication log as an admin inline, and a Django inline is "
        "declared with the model class",
}
# Models whose managers views/admin/commands may use: Django's own users and groups, not domain tables.
AUTH_MODELS = {"User", "Group", "Permission"}


def _project_apps() -> set[str]:
    # A virtualenv inside the checkout (CI's .venv) holds third-party apps, not ours.
    root = ROOT.resolve()
    return {c.name for c in apps.get_app_configs()
            if Path(c.path).resolve().is_relative_to(root)
            and not SKIPPED_PARTS & set(Path(c.path).resolve().relative_to(root).parts)}


def _sources() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if not SKIPPED_PARTS & set(p.relative_to(ROOT).parts))


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes inside `if TYPE_CHECKING:` blocks."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            for child in node.body:
                inside.update(id(n) for n in ast.walk(child))
    return inside


def models_imports(source: str, *, module_path: str, project_apps: set[str]) -> list[tuple[int, str]]:
    """(line, models module) for each import of another app's models in `source` (TYPE_CHECKING
    imports excepted). module_path is the file's path from the repository root."""
    owner = module_path.split("/")[0]
    tree = ast.parse(source)
    hints = _type_checking_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            parts = name.split(".")
            if len(parts) >= 2 and parts[0] in project_apps and parts[1] == "models" and parts[0] != owner:
                found.append((node.lineno, f"{parts[0]}.models"))
                break
    return found


def orm_queries(source: str) -> list[tuple[int, str]]:
    """(line, model) for each `Model.objects` of a domain model in `source`."""
    return [(node.lineno, node.value.id) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager")
            and isinstance(node.value, ast.Name) and node.value.id not in AUTH_MODELS]


def _is_edge(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (name in ("views.py", "admin.py", "tasks.py") or "/management/commands/" in path
            or "/api/" in path and name == "views.py")


def test_no_module_imports_another_apps_models():
    project_apps = _project_apps()
    assert {"accounts", "brokers", "copytrading", "reporting", "compliance", "core"} <= project_apps
    violations, used = [], set()
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        for line, module in models_imports(path.read_text(), module_path=rel, project_apps=project_apps):
            if (rel, module) in ALLOWED_MODEL_IMPORTS:
                used.add((rel, module))
                continue
            violations.append(f"{rel}:{line} imports {module}: use {module.split('.')[0]}'s selectors/services")
    assert violations == []
    assert used == set(ALLOWED_MODEL_IMPORTS), "an allowlist entry no longer needed: remove it"


def test_views_admin_tasks_and_commands_run_no_orm_query_of_their_own():
    violations = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        if _is_edge(rel):
            violations += [f"{rel}:{line} queries {model}.objects: call a selector or service"
                           for line, model in orm_queries(path.read_text())]
    assert violations == []


@pytest.mark.parametrize(("source", "expected"), [
    ("from brokers.models import BrokerCredential\n", [(1, "brokers.models")]),
    ("def f():\n    from brokers.models import BrokerCredential\n", [(2, "brokers.models")]),
    ("import brokers.models\n", [(1, "brokers.models")]),
    ("from brokers import models\n", [(1, "brokers.models")]),
    ("from copytrading.models import CopyOrder\n", []),  # its own app
    ("from .models import CopyOrder\n", []),
    ("from brokers.selectors import credentials_by_id\n", []),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from accounts.models import Account\n", []),
])
def test_the_scan_sees_each_way_of_importing_models(source, expected):
    apps_ = {"accounts", "brokers", "copytrading"}
    assert models_imports(source, module_path="copytrading/planning.py", project_apps=apps_) == expected


def test_the_scan_sees_an_orm_query_but_not_auth_users():
    source = "x = Report.objects.filter(pk=1)\ny = User.objects.get(pk=1)\nz = report_list(account=a)\n"
    assert orm_queries(source) == [(1, "Report")]
