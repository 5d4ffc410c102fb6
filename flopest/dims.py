"""Symbolic dims: exact integer polynomials over named dims (``batch``, ``sequence``).

A shape entry is either a Python ``int`` or a :class:`Sym`. ``Sym`` supports ``+ - *`` exactly
(canonical form, so ``b*s`` and ``s*b`` are the same expression) and keeps anything else
(floor division, ``max``) as an opaque atom evaluated when the dims are bound. Expressions are
parsed from ONNX ``dim_param`` strings such as ``"batch*sequence"`` or ``"past + 1"``.
"""

from __future__ import annotations

import ast
import hashlib
import math
import re
from typing import Mapping, Union

from .errors import BroadcastError, FlopestError, InputError

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# a name with hyphens between words ("batch-size", "sequence-length"): one dim, not a difference.
# Expressions written by onnxruntime's and torch's symbolic shapes (sympy's printing) put spaces
# around a binary minus ("s0 - 1"), and a hyphen before a digit stays arithmetic ("s0-1").
_KEBAB = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)+$")


class Sym:
    """Polynomial with int coefficients: {monomial (sorted tuple of atom names): coefficient}.

    Atoms are dim names, or opaque expressions kept in ``OPAQUE`` (name -> Python source).
    """

    __slots__ = ("terms", "_key")

    def __init__(self, terms: dict):
        self.terms = {m: c for m, c in terms.items() if c != 0}
        self._key = None

    # construction -----------------------------------------------------------------------
    @staticmethod
    def name(n: str) -> "Sym":
        return Sym({(n,): 1})

    @property
    def key(self) -> tuple:
        if self._key is None:
            self._key = tuple(sorted(self.terms.items()))
        return self._key

    def free(self) -> set:
        out = set()
        for m in self.terms:
            out.update(m)
        return out

    # arithmetic -------------------------------------------------------------------------
    def _coerce(self, other):
        if isinstance(other, Sym):
            return other
        if isinstance(other, int):
            return Sym({(): other})
        return NotImplemented

    def __add__(self, other):
        o = self._coerce(other)
        if o is NotImplemented:
            return o
        t = dict(self.terms)
        for m, c in o.terms.items():
            t[m] = t.get(m, 0) + c
        return simplify(Sym(t))

    __radd__ = __add__

    def __neg__(self):
        return Sym({m: -c for m, c in self.terms.items()})

    def __sub__(self, other):
        o = self._coerce(other)
        if o is NotImplemented:
            return o
        return self + (-o)

    def __rsub__(self, other):
        return (-self) + other

    def __mul__(self, other):
        o = self._coerce(other)
        if o is NotImplemented:
            return o
        t: dict = {}
        for m1, c1 in self.terms.items():
            for m2, c2 in o.terms.items():
                m = tuple(sorted(m1 + m2))
                t[m] = t.get(m, 0) + c1 * c2
        return simplify(Sym(t))

    __rmul__ = __mul__

    def __floordiv__(self, other):
        if isinstance(other, int) and other > 0 and all(c % other == 0 for c in self.terms.values()):
            return simplify(Sym({m: c // other for m, c in self.terms.items()}))
        return opaque(f"({to_source(self)}) // ({to_source(other)})", self, other)

    def __rfloordiv__(self, other):
        return opaque(f"({to_source(other)}) // ({to_source(self)})", other, self)

    def __eq__(self, other):
        if isinstance(other, Sym):
            return self.key == other.key
        return False

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        return f"Sym({to_source(self)!r})"

    def __str__(self):
        return to_source(self)


Dim = Union[int, Sym]

# opaque atoms: name -> (python source over other atoms/names)
OPAQUE: dict = {}


def opaque(src: str, *parts) -> Sym:
    name = "_op" + hashlib.sha1(src.encode()).hexdigest()[:12]
    OPAQUE.setdefault(name, src)
    return Sym.name(name)


def simplify(s: Sym) -> Dim:
    """A polynomial with only a constant term becomes a plain int."""
    if not s.terms:
        return 0
    if len(s.terms) == 1 and () in s.terms:
        return s.terms[()]
    return s


def to_source(d) -> str:
    if isinstance(d, int):
        return str(d)
    parts = []
    for m, c in sorted(d.terms.items()):
        f = "*".join(m)
        if not m:
            parts.append(str(c))
        elif c == 1:
            parts.append(f)
        else:
            parts.append(f"{c}*{f}")
    return " + ".join(parts) if parts else "0"


def exact_div(a, b):
    """a / b when it divides exactly (ints, or a polynomial by an int or a monomial);
    else an opaque floor division."""
    if isinstance(a, int) and isinstance(b, int):
        return a // b if b else 0
    if isinstance(b, int):
        return a // b
    if isinstance(b, Sym) and len(b.terms) == 1:
        (bm, bc), = b.terms.items()
        if isinstance(a, Sym):
            out = {}
            for m, c in a.terms.items():
                rest = list(m)
                for x in bm:
                    if x not in rest:
                        break
                    rest.remove(x)
                else:
                    if c % bc == 0:
                        out[tuple(rest)] = out.get(tuple(rest), 0) + c // bc
                        continue
                break
            else:
                return simplify(Sym(out))
    return a // b


# broadcasting ---------------------------------------------------------------------------
# opaque atoms made by broadcast_dim: name -> the (unordered, deduplicated) dims it broadcasts
BROADCASTS: dict = {}


def _bcast_args(d) -> list:
    if isinstance(d, Sym) and len(d.terms) == 1:
        (m, c), = d.terms.items()
        if c == 1 and len(m) == 1 and m[0] in BROADCASTS:
            return list(BROADCASTS[m[0]])
    return [d]


def broadcast_dim(a, b):
    """One axis of NumPy broadcasting: equal sizes, or one of them 1. A 1 against N gives N;
    a static N against a symbol gives N (the symbol must be 1 or N); two different symbols
    give ``broadcast(a, b)``, an atom that takes the non-1 value when the dims are bound and
    raises BroadcastError when they bind to two unequal non-1 values. Never one operand's
    symbol for both. BroadcastError for two unequal static sizes neither of which is 1."""
    args: list = []
    for d in _bcast_args(a) + _bcast_args(b):
        if isinstance(d, int) and d == 1:
            continue
        if d not in args:
            args.append(d)
    ints = [d for d in args if isinstance(d, int)]
    if len(ints) > 1:
        raise BroadcastError(f"sizes {ints[0]} and {ints[1]} do not broadcast (NumPy rules: equal "
                             f"sizes, or one of them 1)")
    if ints and len(args) > 1:   # a symbol against N: N, once the symbol is bound to 1 or N (checked)
        srcs = [to_source(d) for d in args if not isinstance(d, int)]
        s = opaque(f"broadcast({', '.join(sorted(srcs))}, {ints[0]})", *args)
        BROADCASTS.setdefault(next(iter(s.free())), tuple(args))   # broadcast again: one atom, not nested
        return s
    if ints:
        return ints[0]
    if not args:
        return 1
    if len(args) == 1:
        return args[0]
    srcs = sorted(to_source(d) for d in args)
    s = opaque(f"broadcast({', '.join(srcs)})", *args)
    BROADCASTS.setdefault(next(iter(s.free())), tuple(args))
    return s


def broadcast_shapes(*shapes) -> tuple:
    """NumPy broadcast of shapes (aligned on the right), axis by axis through broadcast_dim."""
    r = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(r):
        d = 1
        for s in shapes:
            k = i - (r - len(s))
            if k >= 0:
                d = broadcast_dim(d, s[k])
        out.append(d)
    return tuple(out)


def _broadcast_values(*vals) -> int:
    """broadcast(...) at bound dims: the common non-1 value; BroadcastError when two differ."""
    big = sorted({int(v) for v in vals if v != 1})
    if len(big) > 1:
        raise BroadcastError(f"sizes {big[0]} and {big[1]} do not broadcast")
    return big[0] if big else 1


def same_dim(a, b, what: str = "a matrix product's inner dims"):
    """Two sizes a model needs equal (a matrix product's inner dims): the size when both are
    static and equal, or the same symbol; BroadcastError for two unequal static sizes. A symbol
    against a static size gives ``same(sym, N)``, which takes N when the symbol is bound to N and
    raises BroadcastError when it is bound to anything else (a dim bound against a weight's
    shape is never silently taken). Two different symbols keep the first (shape inference may
    name one axis twice; the kernel binds both)."""
    if isinstance(a, int) and isinstance(b, int):
        if a != b:
            raise BroadcastError(f"{what} are {a} and {b}: they must be equal")
        return a
    if a == b or (not isinstance(a, int) and not isinstance(b, int)):
        return a
    sym, n = (a, b) if isinstance(b, int) else (b, a)
    return opaque(f"same({to_source(sym)}, {n})", sym, n)


def _same_values(*vals) -> int:
    """same(...) at bound dims: the common value; BroadcastError when they differ."""
    got = sorted({int(v) for v in vals})
    if len(got) > 1:
        raise BroadcastError(f"sizes {got[0]} and {got[1]} must be equal (a matrix product's inner dims, "
                             f"set by a weight's shape)")
    return got[0]


def is_sym(d) -> bool:
    return isinstance(d, Sym)


def prod(dims) -> Dim:
    out: Dim = 1
    for d in dims:
        out = out * d
    return out


def free_names(d) -> set:
    """Dim names a value depends on, opaque atoms expanded."""
    if isinstance(d, int):
        return set()
    out = set()
    for a in d.free():
        if a in OPAQUE:
            out |= _names_in_source(OPAQUE[a])
        else:
            out.add(a)
    return out


def _names_in_source(src: str) -> set:
    out = set()
    for node in ast.walk(ast.parse(src, mode="eval")):
        if isinstance(node, ast.Name) and node.id not in _FUNCS:
            if node.id in OPAQUE:
                out |= _names_in_source(OPAQUE[node.id])
            else:
                out.add(node.id)
    return out


# evaluation ---------------------------------------------------------------------------
def _floor(x):
    return math.floor(x)


def _ceil(x):
    return math.ceil(x)


_FUNCS = {"broadcast": _broadcast_values, "same": _same_values, "floor": _floor, "ceiling": _ceil, "ceil": _ceil, "Max": max, "Min": min,
          "max": max, "min": min, "Mod": lambda a, b: a % b, "Abs": abs}


def evaluate(d, values: Mapping[str, int], memo: dict | None = None) -> int:
    """Value of a dim with every name bound; KeyError names the first unbound one. `memo`
    ({atom: value} at these `values`) shares the opaque atoms' values between the dims of one
    binding: nested atoms (a CNN's floor divisions, layer after layer) are evaluated once."""
    if isinstance(d, int):
        return d
    if memo is None:
        memo = {}
    total = 0
    for m, c in d.terms.items():
        v = c
        for a in m:
            v *= _atom_value(a, values, memo)
        total += v
    return total


_OPAQUE_NAME = re.compile(r"_op[0-9a-f]{12}")


def readable(src: str, depth: int = 8) -> str:
    """`src` with its opaque atoms' names replaced by their expressions, for messages."""
    for _ in range(depth):
        out = _OPAQUE_NAME.sub(lambda m: OPAQUE.get(m.group(0), m.group(0)), src)
        if out == src:
            break
        src = out
    return src


_COMPILED: dict = {}   # opaque atom -> (code, names of its source, the opaque atoms among them)


def _compiled(a: str) -> tuple:
    got = _COMPILED.get(a)
    if got is None:
        src = OPAQUE[a]
        names = set(_names_in_source(src))
        names |= {n.id for n in ast.walk(ast.parse(src, mode="eval")) if isinstance(n, ast.Name) and n.id in OPAQUE}
        got = _COMPILED[a] = (compile(src, "<dim>", "eval"), tuple(sorted(names)))
    return got


def _atom_value(a: str, values: Mapping[str, int], memo: dict | None = None) -> int:
    if a in values:
        return values[a]
    if memo is not None and a in memo:
        return memo[a]
    if a in OPAQUE:
        code, names = _compiled(a)
        env = dict(_FUNCS)
        for n in names:
            if n in values:
                env[n] = values[n]
            elif n in OPAQUE:
                env[n] = _atom_value(n, values, memo)
            elif n not in _FUNCS:
                env[n] = values[n]   # KeyError: an unbound name
        try:
            v = eval(code, {"__builtins__": {}}, env)  # noqa: S307 (AST-checked)
        except BroadcastError as exc:
            bound = ", ".join(f"{k}={v}" for k, v in values.items())
            shown = readable(OPAQUE[a])
            if OPAQUE[a].startswith("same("):
                raise BroadcastError(f"the dims bound ({bound}) do not fit {shown!r}: {exc}; bind the size "
                                     f"the model's weights have") from None
            raise BroadcastError(f"the dims bound ({bound}) do not broadcast in {shown!r}: {exc} (NumPy rules: "
                                 f"equal sizes, or one of them 1); bind dims the model's shapes allow") from None
        if isinstance(v, float):
            if not v.is_integer():
                raise InputError(f"symbolic dim {OPAQUE[a]!r} is not an integer ({v}) at {dict(values)}")
            v = int(v)
        v = int(v)
        if memo is not None:
            memo[a] = v
        return v
    raise KeyError(a)


def examples_at(expr: str, values: Mapping[str, int]) -> int | None:
    """The value at `values` of the dim expression `expr` (ONNX dim_param text) that is a
    model's examples per pass; None when a name is not bound or the value is not a whole
    number >= 1 (then the examples per pass are unknown, and an estimate asks for them)."""
    try:
        v = evaluate(parse_dim_param(expr), values)
    except (KeyError, ArithmeticError, ValueError, TypeError, FlopestError):
        return None
    return int(v) if isinstance(v, int) and v >= 1 else None


# parsing ------------------------------------------------------------------------------
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Add, ast.Sub, ast.Mult, ast.FloorDiv,
            ast.Div, ast.Mod, ast.USub, ast.UAdd, ast.Name, ast.Load, ast.Constant, ast.Call)


def parse_dim_param(text: str) -> Dim:
    """ONNX ``dim_param`` -> Dim. A plain name is a symbol; an arithmetic expression (as written
    by onnxruntime's symbolic shape inference) is parsed; anything else is one opaque symbol
    named after the text (sanitised)."""
    text = text.strip()
    if _IDENT.match(text):
        return Sym.name(text)
    if _KEBAB.match(text):
        return Sym.name(dim_name(text))
    try:
        tree = ast.parse(text, mode="eval")
        if all(isinstance(n, _ALLOWED) for n in ast.walk(tree)):
            return _from_ast(tree.body)
    except (SyntaxError, ValueError, TypeError):
        pass
    return Sym.name(sanitize(text))


def dim_name(text: str) -> str:
    """The name flopest gives a dim written `text` by a model or a user: itself when it is an
    identifier, "batch_size" for the hyphenated "batch-size" (one dim, see _KEBAB)."""
    text = str(text).strip()
    return sanitize(text) if _KEBAB.match(text) else text


def sanitize(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_]", "_", text)
    if not s or s[0].isdigit():
        s = "d_" + s
    return s


def _from_ast(n) -> Dim:
    if isinstance(n, ast.Constant):
        if isinstance(n.value, int) and not isinstance(n.value, bool):
            return n.value
        raise ValueError("non-int constant")
    if isinstance(n, ast.Name):
        return Sym.name(n.id)
    if isinstance(n, ast.UnaryOp):
        v = _from_ast(n.operand)
        return -v if isinstance(n.op, ast.USub) else v
    if isinstance(n, ast.BinOp):
        a, b = _from_ast(n.left), _from_ast(n.right)
        if isinstance(n.op, ast.Add):
            return a + b
        if isinstance(n.op, ast.Sub):
            return a - b
        if isinstance(n.op, ast.Mult):
            return a * b
        if isinstance(n.op, ast.FloorDiv):
            return a // b if (isinstance(a, Sym) or isinstance(b, Sym)) else a // b
        src = ast.unparse(n)
        return opaque(src, a, b)
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in _FUNCS:
        args = [_from_ast(x) for x in n.args]
        if all(isinstance(x, int) for x in args):
            return int(_FUNCS[n.func.id](*args))
        return opaque(ast.unparse(n), *args)
    raise ValueError("unsupported expression")
