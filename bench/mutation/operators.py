"""Mutant generation: small AST changes to one module, each with a key that survives line moves.

Operators (one mutant each per site):
- compare:  a boundary shift (< <=, > >=) or an inversion (== !=, in / not in, is / is not)
- arith:    + -, * /, // /, % *, ** * (also in augmented assignments)
- boolop:   and <-> or
- negate:   the test of an if / while / ternary / comprehension filter becomes `not (test)`
- unary:    a unary minus is dropped
- constant: a number n becomes n + 1, True <-> False, a number inside Decimal("...") gets + 1,
            a string in a comparison or a literal set/tuple/list gets an extra character
- call:     min <-> max, abs(x) -> x, ROUND_UP <-> ROUND_DOWN
- kwarg:    one keyword argument of a call is dropped (the callee's default applies)
- return:   `return x` -> `return None`
- delete:   an assignment, expression, raise, continue or break becomes `pass`

Not mutated, because a change there cannot move a number: docstrings, annotations, imports,
decorators and f-strings (message text), and statements at module or class level other than their
constants."""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

COMPARE_SWAP: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
INVERTIBLE = (ast.Eq, ast.NotEq, ast.In, ast.NotIn, ast.Is, ast.IsNot)
ARITH_SWAP: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
    ast.Mod: ast.Mult, ast.Pow: ast.Mult,
}
NAME_SWAP = {"min": "max", "max": "min", "ROUND_UP": "ROUND_DOWN", "ROUND_DOWN": "ROUND_UP"}
DELETABLE = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Raise, ast.Continue, ast.Break)
SNIPPET = 90


@dataclass(frozen=True)
class Mutant:
    module: str  # path relative to the project root, e.g. reporting/lots.py
    index: int  # position in generation order (stable for one version of the source)
    lineno: int
    scope: str  # dotted name of the enclosing function or class, "<module>" at top level
    operator: str
    before: str
    after: str
    nth: int = 1  # occurrence of the same (scope, operator, before, after): keys stay unique

    @property
    def key(self) -> str:
        """Identifies the mutant in the equivalents file without a line number, so it survives edits."""
        base = f"{self.scope}: {self.operator} `{self.before}` -> `{self.after}`"
        return base if self.nth == 1 else f"{base} #{self.nth}"


def _snippet(node: ast.AST) -> str:
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= SNIPPET else text[: SNIPPET - 3] + "..."


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _bumped_decimal_text(text: str) -> str | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return str(value + 1) if value.is_finite() else None


class _Sites(ast.NodeTransformer):
    """Walks a module in a fixed order. In listing mode (target None) it records every site; with a
    target index it rewrites that one site and leaves the rest alone."""

    def __init__(self, target: int | None = None) -> None:
        self.target = target
        self.count = 0
        self.found: list[tuple[int, str, str, str, str]] = []  # (lineno, scope, operator, before, after)
        self.scope: list[str] = []
        self.function_depth = 0
        self.string_context = 0  # > 0 inside a comparison or a literal collection

    # --- bookkeeping ---------------------------------------------------------------------------
    def _site(self, node: ast.AST, operator: str, mutated: ast.AST, shown_before: ast.AST | None = None,
              shown_after: ast.AST | None = None) -> ast.AST:
        """Record one site; return the mutated node if it is the target, else the original."""
        index = self.count
        self.count += 1
        if self.target is None:
            before = _snippet(shown_before if shown_before is not None else node)
            after = _snippet(shown_after if shown_after is not None else mutated)
            self.found.append((getattr(node, "lineno", 0), ".".join(self.scope) or "<module>", operator, before, after))
            return node
        if index == self.target:
            return ast.copy_location(mutated, node)
        return node

    def _visit_body(self, body: list[ast.stmt], *, deletable: bool) -> list[ast.stmt]:
        out = []
        for stmt in body:
            if _is_docstring(stmt):
                out.append(stmt)
                continue
            if deletable and isinstance(stmt, DELETABLE):
                stmt = self._site(stmt, "delete", ast.Pass(), shown_after=ast.Pass())
                if isinstance(stmt, ast.Pass):
                    out.append(stmt)
                    continue
            out.append(self.visit(stmt))
        return out

    # --- structure -----------------------------------------------------------------------------
    def visit_Module(self, node: ast.Module) -> ast.Module:
        node.body = self._visit_body(node.body, deletable=False)
        return node

    def visit_Import(self, node: ast.Import) -> ast.Import:
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.ImportFrom:
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.ClassDef:
        self.scope.append(node.name)
        node.body = self._visit_body(node.body, deletable=False)
        self.scope.pop()
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self.scope.append(node.name)
        node.args.defaults = [self.visit(d) for d in node.args.defaults]
        node.args.kw_defaults = [self.visit(d) if d is not None else None for d in node.args.kw_defaults]
        self.function_depth += 1
        node.body = self._visit_body(node.body, deletable=True)
        self.function_depth -= 1
        self.scope.pop()
        return node

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def _visit_block(self, node: ast.AST) -> ast.AST:
        for name in ("body", "orelse", "finalbody"):
            if hasattr(node, name):
                setattr(node, name, self._visit_body(getattr(node, name), deletable=self.function_depth > 0))
        if isinstance(node, ast.Try):
            for handler in node.handlers:
                handler.body = self._visit_body(handler.body, deletable=self.function_depth > 0)
        return node

    def visit_If(self, node: ast.If) -> ast.If:
        node.test = self._negated(self.visit(node.test), node.test)
        return self._visit_block(node)

    def visit_While(self, node: ast.While) -> ast.While:
        node.test = self._negated(self.visit(node.test), node.test)
        return self._visit_block(node)

    def visit_For(self, node: ast.For) -> ast.For:
        node.iter = self.visit(node.iter)
        return self._visit_block(node)

    def visit_With(self, node: ast.With) -> ast.With:
        for item in node.items:
            item.context_expr = self.visit(item.context_expr)
        return self._visit_block(node)

    def visit_Try(self, node: ast.Try) -> ast.Try:
        return self._visit_block(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AnnAssign:
        if node.value is not None:
            node.value = self.visit(node.value)
        return node  # the annotation stays as it is

    def visit_JoinedStr(self, node: ast.JoinedStr) -> ast.JoinedStr:
        return node

    def visit_Return(self, node: ast.Return) -> ast.Return:
        if node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None):
            return node
        node.value = self.visit(node.value)
        return self._site(node, "return", ast.Return(value=ast.Constant(value=None)))

    def _negated(self, test: ast.expr, original: ast.expr) -> ast.expr:
        if isinstance(original, ast.Compare) and len(original.ops) == 1 and isinstance(original.ops[0], INVERTIBLE):
            return test  # `not (a == b)` is the compare operator's own `a != b` mutant
        return self._site(test, "negate", ast.UnaryOp(op=ast.Not(), operand=test), shown_before=original)

    # --- expressions ---------------------------------------------------------------------------
    def visit_IfExp(self, node: ast.IfExp) -> ast.IfExp:
        node.test = self._negated(self.visit(node.test), node.test)
        node.body = self.visit(node.body)
        node.orelse = self.visit(node.orelse)
        return node

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        node.iter = self.visit(node.iter)
        node.ifs = [self._negated(self.visit(test), test) for test in node.ifs]
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.expr:
        self.string_context += 1
        node.left = self.visit(node.left)
        node.comparators = [self.visit(c) for c in node.comparators]
        self.string_context -= 1
        for position, op in enumerate(node.ops):
            swapped = COMPARE_SWAP.get(type(op))
            if swapped is None:
                continue
            mutated = copy.deepcopy(node)
            mutated.ops[position] = swapped()
            result = self._site(node, "compare", mutated)
            if result is not node:
                return result
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        node.left = self.visit(node.left)
        node.right = self.visit(node.right)
        swapped = ARITH_SWAP.get(type(node.op))
        if swapped is None:
            return node
        return self._site(node, "arith", ast.BinOp(left=node.left, op=swapped(), right=node.right))

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.stmt:
        node.value = self.visit(node.value)
        swapped = ARITH_SWAP.get(type(node.op))
        if swapped is None:
            return node
        return self._site(node, "arith", ast.AugAssign(target=node.target, op=swapped(), value=node.value))

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.expr:
        node.values = [self.visit(v) for v in node.values]
        other = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return self._site(node, "boolop", ast.BoolOp(op=other, values=node.values))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        node.operand = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return self._site(node, "unary", node.operand)
        return node

    def _collection(self, node: ast.AST) -> ast.AST:
        self.string_context += 1
        node.elts = [self.visit(e) for e in node.elts]  # type: ignore[attr-defined]
        self.string_context -= 1
        return node

    visit_Set = _collection  # type: ignore[assignment]
    visit_Tuple = _collection  # type: ignore[assignment]
    visit_List = _collection  # type: ignore[assignment]

    def visit_Dict(self, node: ast.Dict) -> ast.Dict:
        node.values = [self.visit(v) for v in node.values]  # keys are names, not numbers
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        value = node.value
        if isinstance(value, bool):
            return self._site(node, "constant", ast.Constant(value=not value))
        if isinstance(value, int | float):
            return self._site(node, "constant", ast.Constant(value=value + 1))
        if isinstance(value, str) and self.string_context:
            return self._site(node, "constant", ast.Constant(value=value + "X"))
        return node

    def visit_Name(self, node: ast.Name) -> ast.expr:
        other = NAME_SWAP.get(node.id)
        if other is not None and node.id.startswith("ROUND_"):
            return self._site(node, "call", ast.Name(id=other, ctx=node.ctx))
        return node

    def visit_Call(self, node: ast.Call) -> ast.expr:
        func = node.func
        if isinstance(func, ast.Name) and func.id == "Decimal" and len(node.args) == 1 and not node.keywords:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                bumped = _bumped_decimal_text(arg.value)
                if bumped is not None:
                    return self._site(node, "constant", ast.Call(func=func, args=[ast.Constant(bumped)], keywords=[]))
                return node
        node.func = self.visit(func)
        saved, self.string_context = self.string_context, 0  # a call's arguments are no literal collection
        node.args = [self.visit(a) for a in node.args]
        for kw in node.keywords:
            kw.value = self.visit(kw.value)
        self.string_context = saved
        if isinstance(func, ast.Name) and func.id in ("min", "max"):
            result = self._site(node, "call", ast.Call(func=ast.Name(id=NAME_SWAP[func.id], ctx=ast.Load()),
                                                       args=node.args, keywords=node.keywords))
            if result is not node:
                return result
        if isinstance(func, ast.Name) and func.id == "abs" and len(node.args) == 1:
            result = self._site(node, "call", node.args[0])
            if result is not node:
                return result
        for position, kw in enumerate(node.keywords):
            if kw.arg is None:
                continue
            kept = node.keywords[:position] + node.keywords[position + 1:]
            shown = ast.keyword(arg=kw.arg, value=kw.value)
            result = self._site(node, "kwarg", ast.Call(func=node.func, args=node.args, keywords=kept),
                                shown_before=shown, shown_after=ast.Name(id="(dropped)"))
            if result is not node:
                return result
        return node


def mutants_list(source: str, module: str) -> list[Mutant]:
    """Every mutant of one module's source, in a fixed order."""
    sites = _Sites()
    sites.visit(ast.parse(source))
    seen: dict[tuple[str, str, str, str], int] = {}
    out = []
    for index, (lineno, scope, operator, before, after) in enumerate(sites.found):
        ident = (scope, operator, before, after)
        seen[ident] = seen.get(ident, 0) + 1
        out.append(Mutant(module, index, lineno, scope, operator, before, after, seen[ident]))
    return out


def mutant_tree(source: str, index: int) -> ast.Module:
    """The module's syntax tree with mutant `index` applied."""
    sites = _Sites(target=index)
    tree = sites.visit(ast.parse(source))
    if index >= sites.count:
        raise IndexError(f"no mutant {index}: the module has {sites.count}")
    return ast.fix_missing_locations(tree)

