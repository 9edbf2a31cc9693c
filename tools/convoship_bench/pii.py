"""PII redaction: quality on the labelled corpus, cost per KB, and what loading it costs.

- Recall, precision and false-positive rate per entity on tests/data/pii_corpus.jsonl, scored
  by convoship_dev.pii_corpus (the corpus test asserts the same thresholds).
- Cost: every corpus text redacted once per round, as time per KB of text; and the p50 over
  200 different 2 KB messages per round, of three kinds: a support message (prose with a
  number, a date, an email, a phone number, a card and an IBAN taken from the corpus: the
  target), prose alone, and corpus lines joined (a dozen entities and look-alikes per message,
  far denser than chat). The phone validation cache is cleared before each message, so
  repeated numbers do not flatter the figures.
- Loading, in fresh processes that imported convoship.chat.turn as the chat function has:
  importing convoship.runtime.pii, then the first text with a
  phone number (imports phonenumbers and reads the 12 default regions' metadata) and the first
  with an IBAN (imports stdnum), with the process's resident memory after each step.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import time

from convoship_bench.report import ERROR, Row, Target
from convoship_bench.stats import Summary, percentile
from convoship_dev.pii_corpus import Sample, load_corpus, score

SECTION = "PII redaction (REDACT)"
RECALL_TARGET = Target("value_min", 0.97)
PRECISION_TARGET = Target("value_min", 0.98)
FALSE_POSITIVE_TARGET = Target("value_max", 0.02)
MESSAGE_TARGET = Target("value_max", 0.5e-3)
MESSAGE_CHARS = 2048
MESSAGES = 200

_LOADING = r"""
import json, sys, time
def rss():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
import convoship.chat.turn  # what the chat function has loaded before a turn redacts
out = {"rss_start_mb": rss()}
t0 = time.perf_counter()
from convoship.runtime.pii import ENTITIES, redact_text
t1 = time.perf_counter()
out["rss_imported_mb"] = rss()
redact_text("call 020 7946 0958 or +1 415 555 0132", ENTITIES)
t2 = time.perf_counter()
redact_text("IBAN DE89 3704 0044 0532 0130 00", ENTITIES)
t3 = time.perf_counter()
out.update(import_s=t1 - t0, first_phone_s=t2 - t1, first_iban_s=t3 - t2, rss_loaded_mb=rss())
out["loaded"] = sorted(m for m in ("phonenumbers", "stdnum") if m in sys.modules)
print(json.dumps(out))
"""


def measure(runs: int) -> list[Row]:
    try:
        from convoship.runtime.pii import ENTITIES, find_pii, redact_text
        from convoship.runtime.pii.phone_numbers import clear_cache
    except ImportError as exc:  # pragma: no cover - the layer is part of this repo
        return [Row(SECTION, "PII redaction", "s", None, status=ERROR, note=str(exc))]
    samples = load_corpus()
    scores = score(
        samples,
        lambda text: [(f.entity, f.start, f.end) for f in find_pii(text, ENTITIES)],
        ENTITIES,
    )
    note = f"corpus: {len(samples)} samples, {sum(not s.labels for s in samples)} look-alikes"
    rows: list[Row] = []
    for entity, result in scores.items():
        details = {"misses": result.misses, "mistakes": result.mistakes}
        rows += [
            Row(SECTION, f"{entity} recall", "count", Summary.of([result.recall]),
                target=RECALL_TARGET, note=note, details=details),
            Row(SECTION, f"{entity} precision", "count", Summary.of([result.precision]),
                target=PRECISION_TARGET, note=note),
            Row(SECTION, f"{entity} false-positive rate", "count",
                Summary.of([result.false_positive_rate]), target=FALSE_POSITIVE_TARGET, note=note),
        ]  # fmt: skip
    texts = [s.text for s in samples]
    support, dense = _support_messages(samples), _messages(texts)
    per_kb: list[float] = []
    p50s: dict[str, list[float]] = {"support": [], "prose": [], "dense": []}
    redact_text(" ".join(texts), ENTITIES)  # warm: imports and region metadata loaded
    kilobytes = sum(len(t.encode()) for t in texts) / 1024
    prose = [_prose(MESSAGE_CHARS - n) for n in range(MESSAGES)]
    for _ in range(max(runs, 1)):
        clear_cache()
        started = time.perf_counter()
        for text in texts:
            redact_text(text, ENTITIES)
        per_kb.append((time.perf_counter() - started) / kilobytes)
        for kind, messages in (("support", support), ("prose", prose), ("dense", dense)):
            p50s[kind].append(percentile(_timed(messages, redact_text, ENTITIES, clear_cache), 50))
    message_note = f"{MESSAGES} different messages a round, phone cache cleared before each"
    rows += [
        Row(SECTION, "redaction cost per KB of corpus text", "s", Summary.of(per_kb)),
        Row(SECTION, "redact a 2 KB support message p50", "s", Summary.of(p50s["support"]),
            target=MESSAGE_TARGET, note=message_note),
        Row(SECTION, "redact 2 KB of prose p50", "s", Summary.of(p50s["prose"]), note=message_note),
        Row(SECTION, "redact 2 KB of corpus lines p50", "s", Summary.of(p50s["dense"]),
            note=message_note),
    ]  # fmt: skip
    return rows + _loading(runs)


_PROSE = (
    "Hello, I ordered the blue jacket last week (order #48213, placed on 2024-03-02) and it "
    "arrived with a broken zipper. I would like a replacement in size M, or a refund if you "
    "have none left. You can write to {EMAIL} or call me on {PHONE} in the afternoon. I paid "
    "with the card {CREDIT_CARD}; if a transfer is easier, my account is {IBAN}. The parcel "
    "came two days late, the box was damaged, and the invoice was missing from it. "
)


def _support_messages(samples: list[Sample]) -> list[str]:
    rnd = random.Random(1024)  # noqa: S311 - varied text, not secrets
    values: dict[str, list[str]] = {}
    for sample in samples:
        for entity, start, end in sample.labels:
            values.setdefault(entity, []).append(sample.text[start:end])
    messages = []
    for _ in range(MESSAGES):
        head = _PROSE.format(
            **{e: rnd.choice(values[e]) for e in ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN")}
        )
        messages.append((head + _prose(MESSAGE_CHARS))[:MESSAGE_CHARS])
    return messages


def _messages(texts: list[str]) -> list[str]:
    rnd = random.Random(2048)  # noqa: S311 - varied text, not secrets
    messages = []
    for _ in range(MESSAGES):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < MESSAGE_CHARS:
            parts.append(rnd.choice(texts))
        messages.append(" ".join(parts)[:MESSAGE_CHARS])
    return messages


def _prose(chars: int) -> str:
    words = [
        "the",
        "agent",
        "answers",
        "questions",
        "about",
        "orders",
        "and",
        "refunds",
        "for",
        "our",
        "customers",
    ]
    rnd = random.Random(chars)  # noqa: S311 - varied text, not secrets
    return " ".join(rnd.choice(words) for _ in range(chars // 5))[:chars]


def _timed(messages: list[str], redact: object, entities: object, clear: object) -> list[float]:
    times = []
    for message in messages:
        clear()  # type: ignore[operator]
        started = time.perf_counter()
        redact(message, entities)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return times


def _loading(runs: int) -> list[Row]:
    results = []
    for _ in range(max(runs, 1)):
        proc = subprocess.run(
            [sys.executable, "-c", _LOADING],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"CONVOSHIP_STAGE": "test", "PATH": "/usr/bin:/bin"},
        )
        if proc.returncode != 0:
            return [Row(SECTION, "import convoship.runtime.pii", "s", None, status=ERROR,
                        note=proc.stderr.strip().splitlines()[-1][:200])]  # fmt: skip
        results.append(json.loads(proc.stdout))

    def figures(key: str) -> Summary:
        return Summary.of([r[key] for r in results])

    def memory(before: str, after: str) -> Summary:
        return Summary.of([round(r[after] - r[before], 1) for r in results])

    note = "fresh process; MB = resident memory added by that step"
    return [
        Row(SECTION, "import convoship.runtime.pii", "s", figures("import_s"), note=note),
        Row(SECTION, "first phone: imports phonenumbers, 12 regions", "s",
            figures("first_phone_s"), note=note),
        Row(SECTION, "first IBAN: imports stdnum", "s", figures("first_iban_s"), note=note),
        Row(SECTION, "MB: import convoship.runtime.pii", "count",
            memory("rss_start_mb", "rss_imported_mb"), note=note),
        Row(SECTION, "MB: phonenumbers and stdnum loaded", "count",
            memory("rss_imported_mb", "rss_loaded_mb"), note=note,
            details={"loaded": results[-1]["loaded"],
                     "median_rss_mb": statistics.median(r["rss_loaded_mb"] for r in results)}),
    ]  # fmt: skip
