"""IAM conditions (CEL expressions) compared as text, for the widening rules of `iam_diff`.

The diff never evaluates a condition. It tells only what the text shows for certain:

- `implies(a, b)`: `a` holds only where `b` does, because `a` is `b`, or one of `b`'s
  alternatives (`b` is `x || a || y`), or `b` (or one of its alternatives) and more
  (`a` is `b && x`), or made of such alternatives. Anything else (`startsWith("shipments/eu/")`
  for `startsWith("shipments/")`) cannot be told, and is not implied.
- `own_part(a, others)`: `a` has the form of every condition in `others` (the same expression
  with other string values), each of its values that differs from theirs is neither a prefix of
  theirs nor theirs of it, and none it shares with them holds one of theirs that differs: one
  pipeline's folder of the landing bucket beside another's.
"""

from __future__ import annotations

import re

LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')


def _normal(expr: str) -> str:
    """`expr` with the spaces outside its string literals collapsed."""
    out, at = [], 0
    for match in LITERAL.finditer(expr):
        out += [re.sub(r"\s+", " ", expr[at:match.start()]), match.group()]
        at = match.end()
    out.append(re.sub(r"\s+", " ", expr[at:]))
    return "".join(out).strip()


def _outside(expr: str) -> list[tuple[int, str, int]]:
    """(position, character, bracket depth) of each character outside string literals."""
    out, depth, quote, escaped = [], 0, "", False
    for i, ch in enumerate(expr):
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
            continue
        if ch in ")]}":
            depth -= 1
        out.append((i, ch, depth))
        if ch in "([{":
            depth += 1
    return out


def _bare(expr: str) -> str:
    """`expr` without spaces and the brackets around all of it."""
    expr = _normal(expr)
    while expr.startswith("(") and expr.endswith(")"):
        inside = [depth for i, _, depth in _outside(expr) if 0 < i < len(expr) - 1]
        if not all(depth > 0 for depth in inside):
            break  # `(a) || (b)`: the first bracket closes before the end
        expr = _normal(expr[1:-1])
    return expr


def _split(expr: str, op: str) -> list[str]:
    """The operands of `op` (`||` or `&&`) at the top level of `expr`; `[expr]` when there is
    none, or when a `?:` (which binds looser than both) stands at the top level."""
    top = [(i, ch) for i, ch, depth in _outside(expr) if depth == 0]
    if any(ch == "?" for _, ch in top):
        return [expr]
    cuts = [i for i, ch in top if ch == op[0] and expr[i + 1:i + 2] == op[1]]
    if not cuts:
        return [expr]
    parts, at = [], 0
    for i in cuts:
        parts.append(expr[at:i])
        at = i + 2
    parts.append(expr[at:])
    return [_bare(p) for p in parts]


def implies(a: str, b: str) -> bool:
    """Whether condition `a` can hold only where condition `b` holds, as its text shows."""
    a, b = _bare(a), _bare(b)
    if a == b:
        return True
    alternatives = _split(a, "||")
    if len(alternatives) > 1:
        return all(implies(x, b) for x in alternatives)
    terms = _split(a, "&&")
    if len(terms) > 1 and any(implies(x, b) for x in terms):
        return True
    options = _split(b, "||")
    return len(options) > 1 and any(implies(a, y) for y in options)


def form(expr: str) -> tuple[str, list[str]]:
    """(`expr` with every string value blanked, its string values in order)."""
    expr = _normal(expr)
    return LITERAL.sub('""', expr), [m.group()[1:-1] for m in LITERAL.finditer(expr)]


def own_part(condition: str, others: list[str]) -> bool:
    """Whether `condition` takes a part of a resource that `others` share out, none of theirs."""
    if not others:
        return False
    shape, values = form(condition)
    for other in others:
        other_shape, other_values = form(other)
        if other_shape != shape:
            return False
        differing = [(x, y) for x, y in zip(values, other_values) if x != y]
        kept = [x for x, y in zip(values, other_values) if x == y]
        if not differing or any(x.startswith(y) or y.startswith(x) for x, y in differing):
            return False
        if any(y in x for x in kept for _, y in differing):
            return False  # one of theirs left in place where the others changed (a prefix edited in all but one place)
    return True
