"""The condition language of rules: a safe expression, checked once, compiled twice.

A condition is a Python-like expression (``amount > 500 and channel == "ecom"``) parsed
with :mod:`ast` under a whitelist — names of the context, str/number/bool literals, tuples
or lists of literals after ``in``/``not in``, comparisons (chains too), ``and``/``or``/
``not``, ``+ - * / %``, unary minus, ``is None``/``is not None`` and the functions
``abs``, ``min``, ``max`` and ``startswith``. Nothing is ever evaluated by Python: the
checked tree is turned into closures (one request, a mapping) and into a polars
expression (a frame of many). Both follow one semantics:

- a missing value (None, NaN, a null cell) propagates through arithmetic; ``x / 0`` and
  ``x % 0`` (and ``x % inf``) are missing;
- a comparison, ``in`` or ``startswith`` with a missing operand is False (two-valued, so
  ``not (x > 5)`` is True when ``x`` is missing); ``x is None`` asks for missing values;
- a list membership flag that is absent is False (not listed).
"""

from __future__ import annotations

import ast
import difflib
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from fraudops.decisions.context import LIST_KINDS, field_types, parse_list_flag, type_of
from fraudops.decisions.numeric import remainder

Kind = Literal["num", "str", "bool", "none"]
Predicate = Callable[[Mapping[str, Any]], bool]
Value = Callable[[Mapping[str, Any]], Any]

FUNCTIONS = ("abs", "min", "max", "startswith")
_COMPARE: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le),
    ast.Gt: (">", operator.gt),
    ast.GtE: (">=", operator.ge),
}
_ORDERED = frozenset({"<", "<=", ">", ">="})
_ARITHMETIC: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.Mod: "%",
}
_KIND_WORDS = {"num": "a number", "str": "a string", "bool": "true/false", "none": "None"}


class ConditionError(ValueError):
    """A condition that cannot be compiled; the message says what and where."""


@dataclass(frozen=True)
class Condition:
    """One checked condition: its per-request predicate, its polars expression (boolean,
    never null) and the context names it reads."""

    text: str
    predicate: Predicate
    expression: pl.Expr
    names: frozenset[str]


@dataclass(frozen=True)
class _Node:
    kind: Kind
    value: Value  # per request: the value, None when missing (bool nodes: a bool)
    expr: pl.Expr  # the same value as a polars expression (bool nodes: never null)
    constant: Any = None  # the literal itself, for literal nodes
    is_constant: bool = False
    field: str | None = None  # a bare str/num context name: read inline on hot paths


_LIST = _Node("none", lambda c: None, pl.lit(None))  # placeholder for `in`'s literal list


# `v != v` is the fastest NaN test for a value of any type (no import, no isinstance)
def _name_value(name: str) -> Value:
    def load(c: Mapping[str, Any]) -> Any:
        v = c.get(name)
        return None if v is None or v != v else v  # noqa: PLR0124

    return load


def flag_is_set(value: Any) -> bool:
    """How a list flag's value reads as true/false: absent, None or NaN is not listed."""
    return value is not None and value == value and bool(value)  # noqa: PLR0124


def _flag_value(name: str) -> Value:
    # flag_is_set, inline: this runs for every rule reading a list
    return lambda c: (v := c.get(name)) is not None and v == v and bool(v)  # noqa: PLR0124


class _Builder:
    def __init__(self, text: str) -> None:
        self.text = text
        self.names: set[str] = set()

    def fail(self, node: ast.AST | None, problem: str) -> ConditionError:
        where = ""
        if node is not None and hasattr(node, "col_offset"):
            snippet = ast.get_source_segment(self.text, node)
            where = f" at `{snippet}`" if snippet else ""
        return ConditionError(f"{problem}{where}")

    def build(self, node: ast.AST) -> _Node:
        method = getattr(self, f"_{type(node).__name__.lower()}", None)
        if method is None:
            raise self.fail(node, f"unsupported syntax ({type(node).__name__})")
        result: _Node = method(node)
        return result

    # leaves --------------------------------------------------------------------------------
    def _name(self, node: ast.Name) -> _Node:
        name = node.id
        kind = type_of(name)
        if kind is None:
            raise self.fail(node, f"unknown field {name!r}{_suggest(name)}")
        self.names.add(name)
        if kind == "bool":
            return _Node("bool", _flag_value(name), pl.col(name).cast(pl.Boolean).fill_null(False))
        if kind == "str":
            return _Node("str", _name_value(name), pl.col(name).cast(pl.String), field=name)
        expr = pl.col(name).cast(pl.Float64).fill_nan(None)
        return _Node("num", _name_value(name), expr, field=name)

    def _constant(self, node: ast.Constant) -> _Node:
        v = node.value
        if v is None:
            return _Node("none", lambda c: None, pl.lit(None), None, True)
        if isinstance(v, bool):
            return _Node("bool", lambda c: v, pl.lit(v), v, True)
        if isinstance(v, int | float):
            number = float(v)  # one numeric type in both compilations
            if not math.isfinite(number):
                raise self.fail(node, "number out of range")
            return _Node("num", lambda c: number, pl.lit(number, pl.Float64), number, True)
        if isinstance(v, str):
            return _Node("str", lambda c: v, pl.lit(v, pl.String), v, True)
        raise self.fail(node, f"unsupported literal {v!r}")

    # arithmetic ------------------------------------------------------------------------------
    def _unaryop(self, node: ast.UnaryOp) -> _Node:
        operand = self.build(node.operand)
        if isinstance(node.op, ast.Not):
            self.expect(operand, "bool", node.operand, "`not`")
            f = operand.value
            return _Node("bool", lambda c: not f(c), ~operand.expr)
        if isinstance(node.op, ast.USub | ast.UAdd):
            self.expect(operand, "num", node.operand, "unary minus")
            if isinstance(node.op, ast.UAdd):
                return operand
            if operand.is_constant:
                k = -operand.constant
                return _Node("num", lambda c: k, pl.lit(k, pl.Float64), k, True)
            g = operand.value
            return _Node("num", lambda c: None if (v := g(c)) is None else -v, -operand.expr)
        raise self.fail(node, "unsupported operator")

    def _binop(self, node: ast.BinOp) -> _Node:
        symbol = _ARITHMETIC.get(type(node.op))
        if symbol is None:
            raise self.fail(node, "unsupported operator (use + - * / %)")
        left, right = self.build(node.left), self.build(node.right)
        for side, operand in ((node.left, left), (node.right, right)):
            self.expect(operand, "num", side, f"`{symbol}`")
        return _arithmetic(symbol, left, right)

    def _call(self, node: ast.Call) -> _Node:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise self.fail(node, f"unsupported function (allowed: {', '.join(FUNCTIONS)})")
        if node.keywords:
            raise self.fail(node, "keyword arguments are not supported")
        name, args = node.func.id, [self.build(a) for a in node.args]
        if name == "startswith":
            if len(args) != 2 or not args[1].is_constant:
                raise self.fail(
                    node, 'startswith takes a field and a string: startswith(mcc, "54")'
                )
            self.expect(args[0], "str", node.args[0], "startswith")
            self.expect(args[1], "str", node.args[1], "startswith")
            prefix, g = args[1].constant, args[0].value
            return _Node(
                "bool",
                lambda c: isinstance(v := g(c), str) and v.startswith(prefix),
                args[0].expr.str.starts_with(prefix).fill_null(False),
            )
        for arg, source in zip(args, node.args, strict=True):
            self.expect(arg, "num", source, f"{name}()")
        if name == "abs":
            if len(args) != 1:
                raise self.fail(node, "abs takes one number")
            g = args[0].value
            return _Node(
                "num", lambda c: None if (v := g(c)) is None else abs(v), args[0].expr.abs()
            )
        if len(args) < 2:
            raise self.fail(node, f"{name} takes at least two numbers")
        result = args[0]
        for arg in args[1:]:
            result = _extreme(name, result, arg)
        return result

    # booleans ------------------------------------------------------------------------------
    def _boolop(self, node: ast.BoolOp) -> _Node:
        parts = [self.build(v) for v in node.values]
        word = "and" if isinstance(node.op, ast.And) else "or"
        for part, source in zip(parts, node.values, strict=True):
            self.expect(part, "bool", source, f"`{word}`")
        fs = [p.value for p in parts]
        exprs = [p.expr for p in parts]
        if word == "and":
            return _Node("bool", _all(fs), pl.all_horizontal(exprs))
        return _Node("bool", _any(fs), pl.any_horizontal(exprs))

    def _compare(self, node: ast.Compare) -> _Node:
        operands = [node.left, *node.comparators]
        # the list after `in` is read by `membership`, not built as a value
        lists = {i + 1 for i, op in enumerate(node.ops) if isinstance(op, ast.In | ast.NotIn)}
        if any(i < len(node.ops) for i in lists):
            raise self.fail(node, "a list after `in` cannot be compared further")
        built = [self.build(o) if i not in lists else _LIST for i, o in enumerate(operands)]
        links = []
        for i, op in enumerate(node.ops):
            links.append(self.link(op, built[i], built[i + 1], operands[i], operands[i + 1], node))
        if len(links) == 1:
            return links[0]
        return _Node(
            "bool", _all([n.value for n in links]), pl.all_horizontal([n.expr for n in links])
        )

    def link(
        self, op: ast.cmpop, left: _Node, right: _Node, lsrc: ast.AST, rsrc: ast.AST, node: ast.AST
    ) -> _Node:
        if isinstance(op, ast.Is | ast.IsNot):
            if right.kind != "none":
                raise self.fail(node, "`is` only tests for None: `x is None`, `x is not None`")
            if left.kind not in ("num", "str"):
                raise self.fail(lsrc, f"`is None` needs a field, not {_KIND_WORDS[left.kind]}")
            g, negate = left.value, isinstance(op, ast.IsNot)
            is_null = left.expr.is_null()
            if negate:
                return _Node("bool", lambda c: g(c) is not None, ~is_null)
            return _Node("bool", lambda c: g(c) is None, is_null)
        if isinstance(op, ast.In | ast.NotIn):
            return self.membership(isinstance(op, ast.NotIn), left, rsrc, lsrc)
        symbol, compare = _COMPARE[type(op)]
        if left.kind == "none" or right.kind == "none":
            raise self.fail(node, "compare with None through `is None` / `is not None`")
        if left.kind != right.kind:
            raise self.fail(
                node,
                f"type mismatch: {_KIND_WORDS[left.kind]} {symbol} {_KIND_WORDS[right.kind]}",
            )
        if left.kind == "bool" and symbol in _ORDERED:
            raise self.fail(node, f"true/false values cannot be ordered with {symbol}")
        expr = compare(left.expr, right.expr)  # the operator module works on expressions
        if left.kind == "bool":  # never missing
            f, g = left.value, right.value
            return _Node("bool", lambda c: compare(f(c), g(c)), expr)
        return _Node("bool", _compare_values(compare, left, right), expr.fill_null(False))

    def membership(self, negate: bool, left: _Node, rsrc: ast.AST, lsrc: ast.AST) -> _Node:
        if not isinstance(rsrc, ast.Tuple | ast.List | ast.Set):
            raise self.fail(rsrc, '`in` needs a list of literals: x in ("a", "b")')
        items = [self.build(e) for e in rsrc.elts]
        if any(not i.is_constant for i in items):
            raise self.fail(rsrc, "`in` needs a list of literals")
        if left.kind not in ("num", "str"):
            raise self.fail(lsrc, f"`in` needs a number or a string, not {_KIND_WORDS[left.kind]}")
        for item, source in zip(items, rsrc.elts, strict=True):
            if item.kind != left.kind:
                raise self.fail(
                    source,
                    f"type mismatch: {_KIND_WORDS[left.kind]} in a list holding "
                    f"{_KIND_WORDS[item.kind]}",
                )
        values = [i.constant for i in items]
        members = frozenset(values)
        dtype = pl.Float64 if left.kind == "num" else pl.String
        found = left.expr.is_in(pl.Series(values, dtype=dtype).implode())
        g = left.value
        if negate:
            return _Node(
                "bool",
                lambda c: (v := g(c)) is not None and v not in members,
                (left.expr.is_not_null() & ~found).fill_null(False),
            )
        name = left.field
        if name is not None:  # no NaN test needed: a NaN is never among the literals
            return _Node(
                "bool",
                lambda c: (v := c.get(name)) is not None and v in members,
                found.fill_null(False),
            )
        return _Node(
            "bool", lambda c: (v := g(c)) is not None and v in members, found.fill_null(False)
        )

    def expect(self, node: _Node, kind: Kind, source: ast.AST, where: str) -> None:
        if node.kind != kind:
            raise self.fail(
                source,
                f"type mismatch: {where} needs {_KIND_WORDS[kind]}, got {_KIND_WORDS[node.kind]}",
            )


def _arithmetic(symbol: str, left: _Node, right: _Node) -> _Node:
    f, g = left.value, right.value
    a, b = left.expr, right.expr
    if symbol in ("/", "%"):
        raw = a / b if symbol == "/" else remainder(a, b)
        # null where b is 0 or null, and for % where b is infinite: Python's x % inf is x
        # or inf by the sign of x, polars' is NaN; neither is a useful remainder
        defined = (b != 0) if symbol == "/" else (b != 0) & b.is_finite()
        expr = pl.when(defined).then(raw).fill_nan(None)
        python = operator.truediv if symbol == "/" else operator.mod

        def divide(c: Mapping[str, Any]) -> Any:
            x, y = f(c), g(c)
            if x is None or y is None or y == 0 or (symbol == "%" and math.isinf(y)):
                return None
            v = python(x, y)
            return None if v != v else v  # noqa: PLR0124  inf - inf

        return _Node("num", divide, expr)
    python = {"+": operator.add, "-": operator.sub, "*": operator.mul}[symbol]
    expr = {"+": a + b, "-": a - b, "*": a * b}[symbol].fill_nan(None)  # inf - inf

    def apply(c: Mapping[str, Any]) -> Any:
        x, y = f(c), g(c)
        if x is None or y is None:
            return None
        v = python(x, y)
        return None if v != v else v  # noqa: PLR0124  inf - inf

    return _Node("num", apply, expr)


def _extreme(name: str, left: _Node, right: _Node) -> _Node:
    f, g = left.value, right.value
    pick = min if name == "min" else max
    a, b = left.expr, right.expr
    first = a <= b if name == "min" else a >= b
    expr = pl.when(a.is_not_null() & b.is_not_null()).then(
        pl.when(first).then(a).otherwise(b)
    )  # null when either is

    def extreme(c: Mapping[str, Any]) -> Any:
        x, y = f(c), g(c)
        return None if x is None or y is None else pick(x, y)

    return _Node("num", extreme, expr)


def _compare_values(compare: Callable[[Any, Any], Any], left: _Node, right: _Node) -> Predicate:
    """The hot path of every rule: specialised for ``field <op> literal``."""
    f, name = left.value, left.field
    if right.is_constant:
        k = right.constant
        if name is not None and (
            compare is operator.eq or (left.kind == "num" and compare is not operator.ne)
        ):
            # a NaN compares False with a number (but for !=) and equals no string: no NaN
            # test is needed (a NaN ordered against a string would raise instead)
            return lambda c: (v := c.get(name)) is not None and compare(v, k)
        return lambda c: (v := f(c)) is not None and compare(v, k)
    g = right.value

    def both(c: Mapping[str, Any]) -> bool:
        x = f(c)
        if x is None:
            return False
        y = g(c)
        return y is not None and compare(x, y)

    return both


def _all(fs: Sequence[Value]) -> Predicate:
    if len(fs) == 2:
        f0, f1 = fs
        return lambda c: bool(f0(c) and f1(c))
    if len(fs) == 3:
        f0, f1, f2 = fs
        return lambda c: bool(f0(c) and f1(c) and f2(c))
    every = tuple(fs)

    def all_hold(c: Mapping[str, Any]) -> bool:
        for f in every:  # noqa: SIM110  a loop: cheaper than all() over a generator
            if not f(c):
                return False
        return True

    return all_hold


def _any(fs: Sequence[Value]) -> Predicate:
    if len(fs) == 2:
        f0, f1 = fs
        return lambda c: bool(f0(c) or f1(c))
    some = tuple(fs)

    def any_holds(c: Mapping[str, Any]) -> bool:
        for f in some:  # noqa: SIM110  as above
            if f(c):
                return True
        return False

    return any_holds


def _suggest(name: str) -> str:
    known = list(field_types())
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if name.startswith("list_") and parse_list_flag(name) is None:
        return " (a list flag is list_<list>_<kind>, kind one of " + ", ".join(LIST_KINDS) + ")"
    return f" (did you mean {', '.join(close)}?)" if close else ""


def compile_condition(text: str) -> Condition:
    """Check ``text`` and compile it; :class:`ConditionError` says what is wrong."""
    if not isinstance(text, str) or not text.strip():
        raise ConditionError("the condition is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        where = f" at column {error.offset}" if error.offset else ""
        raise ConditionError(f"syntax error in condition{where}: {error.msg}") from None
    builder = _Builder(text.strip())
    node = builder.build(tree.body)
    if node.kind != "bool":
        raise ConditionError(f"the condition must be true or false, got {_KIND_WORDS[node.kind]}")
    # one value per row, always: a constant condition is a scalar, and polars 2.1 may
    # fold a `when` whose mask is uniform (an all-null column) into a single row too
    expression = node.expr & pl.repeat(True, pl.len())
    return Condition(text, node.value, expression, frozenset(builder.names))
