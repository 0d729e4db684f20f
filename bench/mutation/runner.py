"""Runs mutants against a module's tests inside one pytest session, one forked child per mutant.

The parent collects the tests once and runs them once on the real code (the baseline: it must pass,
and it leaves session fixtures such as the test database set up). Each child then swaps the mutant's
code into the already imported module and runs the same test items, stopping at the first failure.
The swap replaces the code objects of the module's functions and methods in place, so every other
module that imported a function by name runs the mutant too; module and class constants are rebound.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import os
import signal
import sys
import time
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import hypothesis
import pytest
from _pytest.runner import runtestprotocol

from .operators import Mutant, mutant_tree

KILLED, SURVIVED, TIMED_OUT, NOT_APPLIED = "killed", "survived", "timed_out", "not_applied"
_EXIT_SURVIVED, _EXIT_KILLED, _EXIT_NOT_APPLIED = 0, 1, 3


@dataclass
class Outcome:
    mutant: Mutant
    status: str
    seconds: float
    killed_by: str = ""


class MutantNotApplied(Exception):
    pass


def _patch_function(old: types.FunctionType, new: types.FunctionType) -> None:
    old, new = inspect.unwrap(old), inspect.unwrap(new)
    if old.__code__.co_freevars != new.__code__.co_freevars:
        raise MutantNotApplied(f"{old.__qualname__}: closure changed")
    old.__code__ = new.__code__
    old.__defaults__ = new.__defaults__
    old.__kwdefaults__ = new.__kwdefaults__


def _same(a: object, b: object) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # values that refuse comparison are treated as changed
        return False


def _patch_class(old: type, new: type) -> None:
    for name, new_value in vars(new).items():
        if name in ("__dict__", "__weakref__", "__doc__", "__module__", "__qualname__", "__slots__"):
            continue
        old_value = vars(old).get(name)
        if isinstance(new_value, types.FunctionType) and isinstance(old_value, types.FunctionType):
            _patch_function(old_value, new_value)
        elif isinstance(new_value, classmethod | staticmethod) and isinstance(old_value, type(new_value)):
            _patch_function(old_value.__func__, new_value.__func__)
        elif isinstance(new_value, property) and isinstance(old_value, property):
            for part in ("fget", "fset", "fdel"):
                if getattr(new_value, part) is not None:
                    _patch_function(getattr(old_value, part), getattr(new_value, part))
        elif isinstance(new_value, type) and isinstance(old_value, type):
            _patch_class(old_value, new_value)
        elif isinstance(old_value, types.MemberDescriptorType | types.GetSetDescriptorType):
            continue  # a slot: the default lives in __init__'s defaults, patched above
        elif name == "__dataclass_fields__":
            for field_name, new_field in new_value.items():
                old_value[field_name].default = new_field.default
        elif not _same(old_value, new_value) and not callable(new_value):
            setattr(old, name, new_value)


def mutant_apply(module: types.ModuleType, source: str, mutant: Mutant) -> None:
    """Swap one mutant into an imported module (in this process, for good)."""
    code = compile(mutant_tree(source, mutant.index), module.__file__ or mutant.module, "exec")
    namespace = {"__name__": module.__name__, "__package__": module.__package__, "__file__": module.__file__,
                 "__builtins__": builtins}
    exec(code, namespace)  # noqa: S102 - the mutated copy of our own module
    for name, new_value in namespace.items():
        if name.startswith("__") and name.endswith("__"):
            continue
        old_value = module.__dict__.get(name)
        if isinstance(new_value, types.FunctionType) and isinstance(old_value, types.FunctionType):
            if getattr(new_value, "__module__", None) == module.__name__:
                _patch_function(old_value, new_value)
        elif isinstance(new_value, type) and isinstance(old_value, type):
            if new_value.__module__ == module.__name__:
                _patch_class(old_value, new_value)
        elif isinstance(new_value, types.ModuleType):
            continue
        elif not _same(old_value, new_value):
            module.__dict__[name] = new_value


def _run_items(items: Sequence[pytest.Item]) -> str:
    """Run the items in order; the first failing test's id, or '' when all pass."""
    for position, item in enumerate(items):
        nextitem = items[position + 1] if position + 1 < len(items) else None
        reports = runtestprotocol(item, log=False, nextitem=nextitem)
        if any(report.failed for report in reports):
            return item.nodeid
    return ""


def _child(module: types.ModuleType, source: str, mutant: Mutant, items: Sequence[pytest.Item],
           report_fd: int) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    status = _EXIT_SURVIVED
    try:
        mutant_apply(module, source, mutant)
    except MutantNotApplied as exc:  # could not be swapped in: reported, never counted as killed
        os.write(report_fd, str(exc).encode()[:500])
        os._exit(_EXIT_NOT_APPLIED)
    except Exception as exc:  # the mutated module fails to import: every test of it would fail
        os.write(report_fd, f"module import fails: {type(exc).__name__}: {exc}".encode()[:500])
        os._exit(_EXIT_KILLED)
    try:
        failed = _run_items(items)
    except BaseException as exc:  # the mutant broke pytest's own machinery: that is a kill too
        failed = f"{type(exc).__name__} in the test run"
    if failed:
        os.write(report_fd, failed.encode()[:500])
        status = _EXIT_KILLED
    os._exit(status)


def _run_one(module: types.ModuleType, source: str, mutant: Mutant, items: Sequence[pytest.Item],
             timeout: float) -> Outcome:
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            _child(module, source, mutant, items, write_fd)
        finally:
            os._exit(_EXIT_NOT_APPLIED)
    os.close(write_fd)
    status = None
    while status is None:
        done, wait_status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(wait_status)
            status = {_EXIT_SURVIVED: SURVIVED, _EXIT_KILLED: KILLED, _EXIT_NOT_APPLIED: NOT_APPLIED}.get(code, KILLED)
        elif time.monotonic() - started > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = TIMED_OUT
        else:
            time.sleep(0.005)
    message = b""
    while chunk := os.read(read_fd, 4096):
        message += chunk
    os.close(read_fd)
    return Outcome(mutant, status, time.monotonic() - started, message.decode(errors="replace"))


class _MutationPlugin:
    def __init__(self, module_name: str, source: str, mutants: Sequence[Mutant], *, timeout_factor: float,
                 progress: Callable[[Outcome, int, int], None]) -> None:
        self.module_name = module_name
        self.source = source
        self.mutants = mutants
        self.timeout_factor = timeout_factor
        self.progress = progress
        self.outcomes: list[Outcome] = []
        self.baseline_failure = ""
        self.baseline_seconds = 0.0
        self.collected = 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        items = list(session.items)
        self.collected = len(items)
        if not items:
            self.baseline_failure = "no tests collected"
            return True
        started = time.monotonic()
        # The baseline runs in this process so the session fixtures stay set up for the children; the
        # last item's nextitem is the first one, which keeps them from being torn down.
        for position, item in enumerate(items):
            nextitem = items[position + 1] if position + 1 < len(items) else items[0]
            if any(r.failed for r in runtestprotocol(item, log=False, nextitem=nextitem)):
                self.baseline_failure = item.nodeid
                return True
        self.baseline_seconds = time.monotonic() - started
        timeout = max(10.0, self.baseline_seconds * self.timeout_factor + 5.0)
        module = sys.modules.get(self.module_name) or importlib.import_module(self.module_name)
        for position, mutant in enumerate(self.mutants, 1):
            outcome = _run_one(module, self.source, mutant, items, timeout)
            self.outcomes.append(outcome)
            self.progress(outcome, position, len(self.mutants))
        return True


def _hypothesis_quiet() -> None:
    """Same examples for every mutant, and no example database: a mutant's failures are not replayed
    against the next one (loaded before the test modules are imported, so their settings inherit it)."""
    hypothesis.settings.register_profile("mutation", database=None, derandomize=True, deadline=None)
    hypothesis.settings.load_profile("mutation")


@dataclass
class ModuleRun:
    outcomes: list[Outcome]
    baseline_failure: str
    baseline_seconds: float
    tests: int


def module_mutate(module_name: str, source: str, mutants: Sequence[Mutant], test_paths: Sequence[str], *,
                  timeout_factor: float = 4.0, progress: Callable[[Outcome, int, int], None] | None = None,
                  pytest_args: Sequence[str] = ()) -> ModuleRun:
    """Run every mutant against the tests in test_paths (one pytest session)."""
    _hypothesis_quiet()
    plugin = _MutationPlugin(module_name, source, mutants, timeout_factor=timeout_factor,
                             progress=progress or (lambda *_: None))
    args = [*test_paths, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=", *pytest_args]
    pytest.main(args, plugins=[plugin])
    return ModuleRun(plugin.outcomes, plugin.baseline_failure, plugin.baseline_seconds, plugin.collected)
