"""The mutation tool (bench/mutation): which mutants it makes, how it swaps one into a live module, and an
end-to-end run on a small module of its own with a known result."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import textwrap

import pytest

from bench.mutation.mutate import ROOT, UsageError, equivalents_read, mutation_main
from bench.mutation.operators import mutant_tree, mutants_list
from bench.mutation.runner import mutant_apply


def listed(source: str) -> list[tuple[str, str, str, str]]:
    return [(m.scope, m.operator, m.before, m.after) for m in mutants_list(textwrap.dedent(source), "m.py")]


def applied(source: str, index: int) -> str:
    return ast.unparse(mutant_tree(textwrap.dedent(source), index))


def test_each_operator_makes_the_documented_change():
    source = '''
    def f(a, b, xs):
        """Docstring: never mutated."""
        if a < b and b >= 2:
            return min(xs)
        total = -a * b
        total += abs(b)
        return total in {"x"}
    '''
    assert listed(source) == [
        ("f", "compare", "a < b", "a <= b"),
        ("f", "constant", "2", "3"),
        ("f", "compare", "b >= 2", "b > 2"),
        ("f", "boolop", "a < b and b >= 2", "a < b or b >= 2"),
        ("f", "negate", "a < b and b >= 2", "not (a < b and b >= 2)"),
        ("f", "call", "min(xs)", "max(xs)"),
        ("f", "return", "return min(xs)", "return None"),
        ("f", "delete", "total = -a * b", "pass"),
        ("f", "unary", "-a", "a"),
        ("f", "arith", "-a * b", "-a / b"),
        ("f", "delete", "total += abs(b)", "pass"),
        ("f", "call", "abs(b)", "b"),
        ("f", "arith", "total += abs(b)", "total -= abs(b)"),
        ("f", "constant", "'x'", "'xX'"),
        ("f", "compare", "total in {'x'}", "total not in {'x'}"),
        ("f", "return", "return total in {'x'}", "return None"),
    ]


def test_a_mutant_changes_only_its_own_site():
    source = "def f(a, b):\n    return a + b - 1\n"
    # sites in order: the inner +, the constant, the outer -, the return
    assert applied(source, 0) == "def f(a, b):\n    return a - b - 1"
    assert applied(source, 1) == "def f(a, b):\n    return a + b - 2"
    assert applied(source, 2) == "def f(a, b):\n    return a + b + 1"
    assert applied(source, 3) == "def f(a, b):\n    return None"
    with pytest.raises(IndexError, match="the module has 4"):
        mutant_tree(source, 4)


def test_decimal_literals_tick_rounding_and_keyword_arguments():
    source = '''
    from decimal import ROUND_UP, Decimal
    HALF = Decimal("0.5")
    def f(x):
        return x.quantize(HALF, rounding=ROUND_UP)
    '''
    assert listed(source) == [
        ("<module>", "constant", "Decimal('0.5')", "Decimal('1.5')"),
        ("f", "call", "ROUND_UP", "ROUND_DOWN"),
        ("f", "kwarg", "rounding=ROUND_UP", "(dropped)"),
        ("f", "return", "return x.quantize(HALF, rounding=ROUND_UP)", "return None"),
    ]


def test_messages_annotations_decorators_and_imports_are_left_alone():
    source = '''
    from __future__ import annotations
    import dataclasses
    @dataclasses.dataclass(frozen=True)
    class C:
        size: int = 3
    def g(x: int = 1) -> str:
        return f"{x + 1} items"
    '''
    assert listed(source) == [("C", "constant", "3", "4"), ("g", "constant", "1", "2"),
                              ("g", "return", "return f'{x + 1} items'", "return None")]


def test_an_equality_test_is_inverted_once_not_twice():
    # `if not (a == b)` would be the same mutant as `if a != b`
    assert [op for _, op, _, _ in listed("def f(a, b):\n    if a == b:\n        pass\n")] == ["compare"]


def test_keys_are_unique_and_free_of_line_numbers():
    source = "def f(x):\n    y = x + 1\n    y = x + 1\n    return y\n"
    keys = [m.key for m in mutants_list(source, "m.py")]
    assert len(keys) == len(set(keys))
    assert "f: arith `x + 1` -> `x - 1` #2" in keys
    shifted = [m.key for m in mutants_list("\n\n" + source, "m.py")]
    assert shifted == keys


@pytest.fixture
def live_module(tmp_path, monkeypatch):
    """A module on disk, imported, plus a second module that imported its function and class by name."""
    (tmp_path / "mutation_target.py").write_text(textwrap.dedent('''
        LIMIT = 10
        class Box:
            def __init__(self, size=2):
                self.size = size
            @property
            def double(self):
                return self.size * 2
        def over(x):
            return x > LIMIT
    '''))
    (tmp_path / "mutation_user.py").write_text("from mutation_target import Box, over\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    target = importlib.import_module("mutation_target")
    user = importlib.import_module("mutation_user")
    yield target, user, (tmp_path / "mutation_target.py").read_text()
    for name in ("mutation_target", "mutation_user"):
        sys.modules.pop(name, None)


def _mutant(source: str, key_part: str):
    [mutant] = [m for m in mutants_list(source, "mutation_target.py") if key_part in m.key]
    return mutant


def test_swapped_function_is_seen_through_names_imported_elsewhere(live_module):
    target, user, source = live_module
    mutant_apply(target, source, _mutant(source, "`x > LIMIT` -> `x >= LIMIT`"))
    assert user.over(10) is True and target.over(9) is False


def test_swapped_constant_and_method_defaults(live_module):
    target, user, source = live_module
    mutant_apply(target, source, _mutant(source, "<module>: constant `10`"))
    assert user.over(10) is False and user.over(11) is False and user.over(12) is True
    mutant_apply(target, source, _mutant(source, "Box.__init__: constant `2` -> `3`"))
    assert user.Box().size == 3


def test_swapped_property(live_module):
    target, user, source = live_module
    mutant_apply(target, source, _mutant(source, "Box.double: arith"))
    assert user.Box(size=4).double == 2


def test_equivalents_file_needs_a_reason_for_each_mutant(tmp_path):
    good = tmp_path / "eq.txt"
    good.write_text("# reviewed\nreporting/lots.py :: f: delete `x = 1` -> `pass`\n    why: x is never read\n")
    [entry] = equivalents_read(good)
    assert (entry.module, entry.key, entry.reason, entry.line) == (
        "reporting/lots.py", "f: delete `x = 1` -> `pass`", "x is never read", 2)
    bad = tmp_path / "bad.txt"
    bad.write_text("reporting/lots.py :: f: delete `x = 1` -> `pass`\n")
    with pytest.raises(UsageError, match="without a 'why:' line"):
        equivalents_read(bad)


def test_the_reviewed_equivalents_file_parses_and_names_real_modules():
    entries = equivalents_read(ROOT / "bench/mutation/equivalent.txt")
    assert {e.module for e in entries} <= {"reporting/lots.py", "copytrading/sizing.py",
                                           "reporting/performance.py", "accounts/risk.py"}
    assert all(e.reason for e in entries)


def test_bad_arguments_give_one_line_and_exit_two(capsys):
    assert mutation_main(["--module", "nope.py"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mutation: unknown module 'nope.py'") and err.count("\n") == 1
    assert mutation_main(["--sample", "-1"]) == 2


def test_end_to_end_run_kills_survives_and_reports(tmp_path):
    """A real run, in a child process, on a module with one weak test: the boundary mutant survives."""
    package = tmp_path / "toy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "calc.py").write_text("def add(a, b):\n    return a + b\n\n\ndef positive(x):\n    return x > 0\n")
    (tmp_path / "test_calc.py").write_text(
        "from toy.calc import add, positive\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_positive():\n    assert positive(5) and not positive(-5)\n")
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(tmp_path)!r})
        from bench.mutation.operators import mutants_list
        from bench.mutation.runner import module_mutate
        source = open({str(package / "calc.py")!r}).read()
        mutants = mutants_list(source, "toy/calc.py")
        run = module_mutate("toy.calc", source, mutants, [{str(tmp_path / "test_calc.py")!r}],
                            pytest_args=["--rootdir", {str(tmp_path)!r}, "-p", "no:django"])
        print(json.dumps({{"baseline": run.baseline_failure, "tests": run.tests,
                          "outcomes": [[o.mutant.key, o.status] for o in run.outcomes]}}))
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["baseline"] == "" and result["tests"] == 2
    assert dict(result["outcomes"]) == {
        "add: arith `a + b` -> `a - b`": "killed",
        "add: return `return a + b` -> `return None`": "killed",
        "positive: compare `x > 0` -> `x >= 0`": "survived",
        "positive: constant `0` -> `1`": "survived",
        "positive: return `return x > 0` -> `return None`": "killed",
    }
