"""The labelled corpus (tests/data/pii_corpus.jsonl): per entity, every labelled entity found
(recall 1.00) and no false positive, neither in the samples without that entity nor among its
redactions (the bench reports the same figures against looser targets)."""

from __future__ import annotations

import pytest

from convoship.runtime.pii import ENTITIES, find_pii
from convoship_dev.pii_corpus import EntityScore, Sample, load_corpus, score

MIN_RECALL = 1.0
MAX_FALSE_POSITIVE_RATE = 0.0
MIN_SAMPLES = {"PHONE": 100, "CREDIT_CARD": 40, "US_SSN": 30, "IBAN": 30, "EMAIL": 30}


def detect(text: str) -> list[tuple[str, int, int]]:
    return [(f.entity, f.start, f.end) for f in find_pii(text, ENTITIES)]


@pytest.fixture(scope="module")
def samples() -> list[Sample]:
    return load_corpus()


@pytest.fixture(scope="module")
def scores(samples: list[Sample]) -> dict[str, EntityScore]:
    return score(samples, detect, ENTITIES)


def test_the_corpus_is_large_and_varied(samples: list[Sample]) -> None:
    assert len(samples) >= 500
    lookalikes = [s for s in samples if not s.labels]
    assert len(lookalikes) >= 150
    counts = {e: sum(label[0] == e for s in samples for label in s.labels) for e in ENTITIES}
    assert all(counts[e] >= MIN_SAMPLES.get(e, 20) for e in ENTITIES), counts
    assert len({s.locale for s in samples if s.labels}) >= 20


@pytest.mark.parametrize("entity", ENTITIES)
def test_recall_and_false_positives_per_entity(entity: str, scores: dict[str, EntityScore]) -> None:
    result = scores[entity]
    assert result.recall >= MIN_RECALL, result.misses
    assert result.false_positive_rate <= MAX_FALSE_POSITIVE_RATE, result.mistakes
    assert 1 - result.precision <= MAX_FALSE_POSITIVE_RATE, result.mistakes


def test_scoring_counts_a_prefix_left_behind_as_a_miss() -> None:
    sample = Sample("mail jörg@beispiel.de", (("EMAIL", 5, 21),), "DE")
    partial = score([sample], lambda text: [("EMAIL", 7, 21)], ["EMAIL"])["EMAIL"]
    assert (partial.recall, partial.precision, partial.false_positive_rate) == (0.0, 0.0, 0.0)
    lookalike = Sample("version 1.2.3.4", (), "lookalike")
    wrong = score([lookalike], lambda text: [("IP_ADDRESS", 8, 15)], ["IP_ADDRESS"])["IP_ADDRESS"]
    assert (wrong.negatives, wrong.false_positive_samples, wrong.precision) == (1, 1, 0.0)
