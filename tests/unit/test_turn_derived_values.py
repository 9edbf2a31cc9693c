"""What a turn derives from its agent alone is derived once, not on every turn: the ESCALATE
keywords' pattern (once per keyword set) and the fixed part of the token estimate (once per
snapshot, which a published version's turns share: chat/read_ahead.py). Same answers."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, cast

import pytest

from convoship.chat import checks
from convoship.chat.conversation import Conversation
from convoship.chat.reservation import estimate_input_tokens, fixed_input
from convoship.runtime.snapshot import AgentSnapshot, RunContext

MESSAGE = "we need a human"


def context_with(keywords: list[str], message: str = "A person will reply.") -> RunContext:
    escalate = {"kind": "ESCALATE", "config": {"keywords": keywords, "message": message}}
    # escalation() reads nothing of a run context but its snapshot
    return cast(RunContext, SimpleNamespace(snapshot=AgentSnapshot.of({}, [escalate], [])))


@pytest.mark.parametrize(
    ("keywords", "message", "escalates"),
    [
        (["human"], "I want a HUMAN now", True),
        (["human"], "humane treatment", False),  # a whole word, not part of one
        (["talk to someone"], "can I talk  to someone", False),  # the phrase as written
        (["talk to someone"], "can I talk to someone?", True),
        (["c++"], "a c++ expert please", True),  # metacharacters are literal
        (["a.b"], "axb", False),
        (["  agent  ", ""], "an agent, please", True),  # trimmed; blank ones ignored
        (["", "   "], "anything", False),
        ([], "human", False),
    ],
)
def test_escalation_matches_whole_keywords_in_any_case(
    keywords: list[str], message: str, escalates: bool
) -> None:
    found = checks.escalation(context_with(keywords), message, None)
    assert (found == "A person will reply.") is escalates


def test_an_escalated_conversation_stays_escalated_whatever_it_says() -> None:
    conv = Conversation(
        id=cast(Any, "c"), status="escalated", turns=1, tokens=0, history=[], visitor_sub=None
    )
    assert checks.escalation(context_with(["human"]), "thanks", conv) == "A person will reply."


def test_the_keywords_pattern_is_built_once_per_keyword_set() -> None:
    checks._asks_for_a_person.cache_clear()
    keywords = [f"keyword{i}" for i in range(100)]
    for _ in range(5):
        assert checks.escalation(context_with(keywords), "say keyword42", None) is not None
        assert checks.escalation(context_with(keywords), MESSAGE, None) is None
    info = checks._asks_for_a_person.cache_info()
    assert (info.misses, info.hits) == (1, 9)


def test_the_estimates_fixed_part_is_computed_once_per_snapshot(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tools = [
        {"name": f"tool_{i}", "description": "Looks it up", "input_schema": {"type": "object"}}
        for i in range(10)
    ]
    snapshot = AgentSnapshot.of({"system_prompt": "Réponds brièvement."}, [], tools)
    offered = [(t["name"], t["description"], t["input_schema"]) for t in tools]
    expected = len("Réponds brièvement.".encode()) + len(json.dumps(offered).encode())
    dumped: list[Any] = []
    real_dumps = json.dumps

    def counting(value: Any, *args: Any, **kwargs: Any) -> str:
        dumped.append(value)
        return real_dumps(value, *args, **kwargs)

    monkeypatch.setattr(json, "dumps", counting)
    for message in ["hi", "ünïcödé", MESSAGE]:
        assert fixed_input(snapshot, message) == (expected + len(message.encode()), 2)
    history = [{"content": "earlier"}]
    assert estimate_input_tokens(snapshot, history, "hi") == -(
        -(expected + 2 + len(b"earlier")) // 3
    ) + 4 * (2 + 1)
    assert len(dumped) == 1
    assert AgentSnapshot.of({}, [], []).fixed_input_bytes == 0


METACHARACTERS = r"\.^$*+?{}[]|()(?<!\w)(?=x)(a+)+$\b\d\1"


def test_hostile_keywords_match_only_as_written_and_the_cache_stays_bounded() -> None:
    """100 keywords of 100 characters, each all regex metacharacters (a catastrophic
    pattern among them, spelt out): each matches only itself, literally, and no message
    of metacharacters that is not one of them does; 200 keyword sets keep at most the
    cache's 64 patterns."""
    keywords = [(f"{i:03d}" + METACHARACTERS * 3)[:100] for i in range(100)]
    assert all(len(k) == 100 for k in keywords)
    context = context_with(keywords)
    assert checks.escalation(context, f"so: {keywords[57]} !", None) is not None
    assert checks.escalation(context, METACHARACTERS * 40, None) is None
    assert checks.escalation(context, "a" * 50_000 + "!", None) is None
    assert checks.escalation(context, keywords[3][:-1], None) is None
    for i in range(200):
        checks.escalation(context_with([f"word{i}", METACHARACTERS]), "nothing", None)
    info = checks._asks_for_a_person.cache_info()
    assert info.maxsize == 64 and info.currsize <= 64
