"""What compiling a pattern with the `regex` module would cost, read from the pattern's parse
tree without compiling it: the memory it builds and the CPU it takes.

Memory. `regex`'s C compiler copies the body of a repeat once per required repetition, plus
once more (`x{3}` is built as four `x` nodes, `x{0,9}` as one), so nested counts multiply:
`(?:x{2000}){2000}` is about four million nodes of ~108 bytes, 1 GB at the peak and seconds of
CPU. `compiled_size` counts the same way, in nodes: one per item, a literal or a character
class by its length, a group or other construct with a body a few more, a repeat `(min + 1)`
times its body. It is an upper bound of what `sys.getsizeof` reports of the compiled pattern
(tests/unit/test_user_regex.py).

CPU. Before the C compiler runs, `regex` parses, optimises and packs the tree in Python, and
that work is not in proportion to the nodes: an alternative, a character class or a group
costs 50 to 150 Python calls where a literal character costs 16, and alternations, repeats and
conditionals walk their bodies again at every level (nested, they grow as the square of their
depth). So `compile_cost` adds to the nodes the Python work of each item of the tree, in units
of about five Python calls (~0.5 us here), weighted by kind (_WORK) and by what encloses it,
and of reading the source (`(?x)` spaces and comments make no node). The calls
`regex.compile` makes are at most CALLS_PER_UNIT per unit of the cost
(tests/unit/test_regex_cost.py counts them with a profiler, for the families below and for
random patterns), and a compiled node costs about 0.2 us of C, less than a unit.

Measured on this machine (python 3.12, regex 2026.11.19; best of five), the worst
pattern of each family within the 20,000 bound, before (nodes alone) and now (compile_cost), with
the time `regex.compile` takes; `check_pattern` (re.compile, this estimate, regex.compile) takes
about twice as long again, at most ~25 ms now where it took up to ~450 ms:

    family               before: worst pattern   compile ms   now: worst pattern   compile ms
    alternatives         'a|' * 19996 + 'b'        112         'a|' * 948 + 'b'         4.9
    alternation groups   '(?:a|b)' * 4000          113         '(?:a|b)' * 310          8.5
    classes              '[abcdefgh]' * 2000        67         '[abcdefgh]' * 119       5.8
    two-letter classes   '[ab]' * 5000              74         '[ab]' * 306             4.2
    ranges               '[a-z]' * 20000           246         '[a-z]' * 718            8.4
    negated characters   '[^a]' * 20000            175         '[^a]' * 991             8.2
    capture groups       '(a)' * 5000               45         '(a)' * 524              4.3
    plain groups         '(?:ab)' * 10000          153         '(?:ab)' * 578           8.3
    literal              'x' * 20000                32         'x' * 3020               4.7
    escapes              '\\u0041' * 20000          79         '\\u0041' * 2190         8.6
    numbers              '0|1|...|5275'             79         '0|1|...|563'            7.0
    nested alternations  '(?:a|' * 197 ...          18         '(?:a|' * 62 ...         2.9
    nested optionals     '(?:' * 197 'ab' ')?'...   20         84 levels                4.2
    counted              '(?:x{138}){138}'         3.0         '(?:x{137}){137}'        2.9

The tree is `regex`'s own (its parser is linear in the pattern and compiles nothing): `re`'s
parser moves a prefix that all alternatives share out of the alternation
(`x{1000}a|x{1000}b` becomes `x{1000}[ab]`), which `regex` does not, so a count on `re`'s tree
is too low by the number of alternatives.
"""

from __future__ import annotations

from typing import Any

NODE_BYTES = 120  # at most, per node of the pinned regex release (108 bytes and its values)
CALLS_PER_UNIT = 5  # Python calls regex.compile makes per unit of compile_cost, at most
_CHILDREN = ("subpattern", "items", "branches", "yes_item", "no_item", "parsed")
_FULL_FOLDING = 4  # `(?fi)ß` is built as ß|ss|ẞ: a character or set may become three or so
_GROUP_CALL_COPIES = 4  # a called group is compiled again per direction and fuzziness
# Python work per item of the tree, in units of ~5 calls (measured: calls per item / 5, rounded
# up, with room); an alternation weighs per branch, a set per member. Every item weighs
# _NESTED_SHARE more per enclosing alternation, repeat or conditional (their bodies are walked
# again at each level), and _DEPTH_SHARE more per enclosing group of any kind.
_WORK = {"char": 5, "leaf": 12, "set": 16, "member": 10, "repeat": 14, "group": 8,
         "sequence": 2, "branch": 10, "conditional": 30}  # fmt: skip
_NESTED_SHARE = 0.25
_REWALKED = ("branch", "repeat", "conditional")  # walk their bodies again at every level
_DEPTH_SHARE = 0.02  # and any group, a little: deep nesting of any kind is quadratic
# Reading the source: half a unit a character (`(?x)` spaces and comments make no node); a `[`
# opens the set machinery even where the set is a single character (`[^a]`, `[a-z]`), and a `(`
# the group parser even where no node is left (`(?:ab)` is just a sequence).
_SOURCE_CHAR = 0.5
_OPENINGS = {"[": 12, "(": 17}
_FIXED = 60  # what any compile costs: flags, the cache key, the code object


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
    return _estimate(pattern)[0]


def compile_cost(pattern: str) -> int:
    """What compiling pattern costs, in units of ~0.5 us: its compiled nodes (compiled_size)
    plus the Python work of its parse tree; ValueError when `regex` cannot parse it."""
    nodes, work = _estimate(pattern)
    source = _SOURCE_CHAR * len(pattern)
    source += sum(weight * pattern.count(opening) for opening, weight in _OPENINGS.items())
    return _FIXED + nodes + work + int(source)


def _estimate(pattern: str) -> tuple[int, int]:
    """(compiled nodes, Python work) of pattern, iteratively: post-order over an explicit stack.
    Each node's kind and child attributes are looked up once per class (_kind)."""
    tree = parse_tree(pattern)
    sizes: dict[int, int] = {}
    work = 0.0
    calls = 0
    # node, its weight for what encloses it (rewalking and depth), whether its children are done
    stack: list[tuple[Any, float, bool]] = [(tree, 1.0, False)]
    while stack:
        node, share, expanded = stack.pop()
        kind, names = _kind(type(node))
        children = _children(node, names)
        if not expanded:
            stack.append((node, share, True))
            if children:
                inner = share + _DEPTH_SHARE + _NESTED_SHARE * (kind in _REWALKED)
                stack += [(child, inner, False) for child in children]
            continue
        body = sum(sizes[id(child)] for child in children)
        sizes[id(node)] = _own_size(node, kind, body, bool(children))
        calls += kind == "call"
        work += _work(node, kind, len(children)) * share
    nodes = sizes[id(tree)] * (1 + _GROUP_CALL_COPIES * calls)  # each called group once more
    return nodes, int(work) + 1


_KINDS: dict[type, tuple[str, tuple[str, ...]]] = {}


def _kind(cls: type) -> tuple[str, tuple[str, ...]]:
    """What the estimate does with a node of this class, and where its children are."""
    known = _KINDS.get(cls)
    if known is not None:
        return known
    from regex import _regex_core as core

    kinds = (
        (core.GreedyRepeat, "repeat"),  # lazy and possessive repeats are subclasses
        (core.Sequence, "sequence"),
        (core.String, "string"),
        (core.SetBase, "set"),
        (core.Branch, "branch"),
        (core.Conditional | core.LookAroundConditional, "conditional"),
        (core.CallGroup | core.CallRef, "call"),
        (core.Character, "char"),
    )
    kind = next((name for base, name in kinds if issubclass(cls, base)), "other")
    names = tuple(name for name in _CHILDREN if _holds_children(cls, name))
    _KINDS[cls] = kind, names
    return kind, names


def _holds_children(cls: type, name: str) -> bool:
    """Whether nodes of cls may keep children under attribute `name` (set in __init__)."""
    init = getattr(cls, "__init__", None)
    code = getattr(init, "__code__", None)
    return code is not None and name in code.co_names


def _children(node: Any, names: tuple[str, ...]) -> list[Any]:
    from regex._regex_core import RegexBase

    found: list[Any] = []
    for name in names:
        value = getattr(node, name, None)
        values = value if isinstance(value, list | tuple) else (value,)
        found += [v for v in values if isinstance(v, RegexBase)]
    return found


def _own_size(node: Any, kind: str, body: int, compound: bool) -> int:
    if kind == "repeat":
        if node.min_count == node.max_count == 1:
            return body
        return (node.min_count + 1) * body + 4
    if kind == "sequence":
        return body
    if kind == "string":
        own = max(1, len(node.characters))
    elif kind == "set":
        own = 2 + body
    elif compound:
        return 3 + body  # groups, branches, lookarounds, conditionals..., even empty ones
    else:
        own = 1  # a character, a property, an anchor...
    flags = getattr(node, "case_flags", 0)
    if flags:  # most nodes have none: the flag enum's `&` is slow
        from regex._regex_core import FULLIGNORECASE

        if flags & FULLIGNORECASE == FULLIGNORECASE:
            return own * _FULL_FOLDING
    return own


def _work(node: Any, kind: str, children: int) -> float:
    """The Python work of one node of the tree, in units (its children weigh on their own)."""
    if kind == "char":
        return _WORK["char"]
    if kind == "string":
        return _WORK["char"] * max(1, len(node.characters))
    if kind == "set":
        return _WORK["set"] + _WORK["member"] * children
    if kind == "branch":
        return _WORK["branch"] * children
    if kind in ("repeat", "sequence", "conditional"):
        return _WORK[kind]
    return _WORK["group"] if children else _WORK["leaf"]
