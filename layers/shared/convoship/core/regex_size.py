"""How large the `regex` module's compiled form of a pattern would be, read from the pattern's
parse tree without compiling it.

Compiling is where `regex` spends memory and time, before any timeout applies: its C compiler
copies the body of a repeat once per required repetition, plus once more (`x{3}` is built as
four `x` nodes, `x{0,9}` as one), so nested counts multiply: `(?:x{2000}){2000}` is about
four million nodes of ~108 bytes, 1 GB at the peak and seconds of CPU. The estimate counts
the same way, in nodes: one per item, a literal or a character class by its length, a group
or other construct with a body a few more, a repeat `(min + 1)` times its body. It is an upper
bound of what `sys.getsizeof` reports of the compiled pattern (tests/unit/test_user_regex.py).

The tree is `regex`'s own (its parser is linear in the pattern and compiles nothing): `re`'s
parser moves a prefix that all alternatives share out of the alternation
(`x{1000}a|x{1000}b` becomes `x{1000}[ab]`), which `regex` does not, so a count on `re`'s tree
is too low by the number of alternatives.
"""

from __future__ import annotations

from typing import Any

NODE_BYTES = 120  # at most, per node of the pinned regex release (108 bytes and its values)
_CHILDREN = ("subpattern", "items", "branches", "yes_item", "no_item", "parsed")
_FULL_FOLDING = 4  # `(?fi)ß` is built as ß|ss|ẞ: a character or set may become three or so
_GROUP_CALL_COPIES = 4  # a called group is compiled again per direction and fuzziness


def parse_tree(pattern: str) -> Any:
    """`regex`'s parse of pattern, as its compile() makes it; ValueError when it has none."""
    from regex import _regex_core as core  # lazy: only patterns from users need it

    global_flags = 0
    while True:  # a global flag met late (`a(?x)b`) restarts the parse, as compile() does
        source = core.Source(pattern)
        info = core.Info(global_flags, source.char_type, {})
        info.guess_encoding = core.UNICODE
        source.ignore_space = bool(info.flags & core.VERBOSE)
        try:
            tree = core._parse_pattern(source, info)
        except core._UnscopedFlagSet:
            global_flags = info.global_flags
            continue
        except (core.error, ValueError, OverflowError, RecursionError) as exc:
            raise ValueError(str(exc)) from None
        if not source.at_end():
            raise ValueError(f"unbalanced parenthesis at position {source.pos}")
        return tree


def compiled_size(pattern: str) -> int:
    """An upper bound of the nodes `regex.compile(pattern)` builds (about NODE_BYTES each);
    ValueError when `regex` cannot parse the pattern."""
    from regex import _regex_core as core

    tree = parse_tree(pattern)
    size, calls = _size(tree, core)
    return size * (1 + _GROUP_CALL_COPIES * calls)  # each called group at most once more


def _size(tree: Any, core: Any) -> tuple[int, int]:
    """(nodes, group calls) of tree, iteratively: post-order over an explicit stack."""
    sizes: dict[int, int] = {}
    calls = 0
    stack: list[tuple[Any, bool]] = [(tree, False)]
    while stack:
        node, expanded = stack.pop()
        children = _children(node, core)
        if not expanded:
            stack.append((node, True))
            stack += [(child, False) for child in children]
            continue
        body = sum(sizes[id(child)] for child in children)
        calls += isinstance(node, core.CallGroup | core.CallRef)
        sizes[id(node)] = _own_size(node, body, bool(children), core)
    return sizes[id(tree)], calls


def _children(node: Any, core: Any) -> list[Any]:
    found: list[Any] = []
    for name in _CHILDREN:
        value = getattr(node, name, None)
        values = value if isinstance(value, list | tuple) else [value]
        found += [v for v in values if isinstance(v, core.RegexBase)]
    return found


def _own_size(node: Any, body: int, compound: bool, core: Any) -> int:
    if isinstance(node, core.GreedyRepeat):  # lazy and possessive repeats are subclasses
        if node.min_count == node.max_count == 1:
            return body
        return (node.min_count + 1) * body + 4
    if isinstance(node, core.Sequence):
        return body
    if isinstance(node, core.String):
        own = max(1, len(node.characters))
    elif isinstance(node, core.SetBase):
        own = 2 + body
    elif compound:
        return 3 + body  # groups, branches, lookarounds, conditionals..., even empty ones
    else:
        own = 1  # a character, a property, an anchor...
    folds = getattr(node, "case_flags", 0) & core.FULLIGNORECASE == core.FULLIGNORECASE
    return own * (_FULL_FOLDING if folds else 1)
