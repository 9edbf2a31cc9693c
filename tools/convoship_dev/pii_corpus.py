"""The labelled PII corpus (tests/data/pii_corpus.jsonl) and how detection is scored on it.

Each line is `{"text": ..., "pii": [[ENTITY, exact substring], ...], "locale": ...}`; a line
with no `pii` is a look-alike that must survive (versions, dates, order numbers, UUIDs, MAC
addresses, prices, ISBNs ...). Shared by the corpus test (thresholds) and `make bench` (figures).

Scoring is per entity and exact: a labelled entity is found only if a detection of the same
kind covers exactly its span (a prefix left behind is a miss). A detection that matches no label
of its kind is a false positive.
- recall: labelled entities found / labelled entities;
- precision: detections that match a label / detections;
- false-positive rate: samples without that entity in which it was detected / such samples.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "pii_corpus.jsonl"

Label = tuple[str, int, int]  # entity, start, end
Detector = Callable[[str], Iterable[Label]]


@dataclass(frozen=True)
class Sample:
    text: str
    labels: tuple[Label, ...]
    locale: str


@dataclass
class EntityScore:
    entity: str
    labelled: int = 0
    found: int = 0
    detections: int = 0
    negatives: int = 0  # samples without this entity
    false_positive_samples: int = 0
    misses: list[str] = field(default_factory=list)
    mistakes: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.found / self.labelled if self.labelled else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.detections if self.detections else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.false_positive_samples / self.negatives if self.negatives else 0.0


def load_corpus(path: Path = CORPUS) -> list[Sample]:
    samples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        text = row["text"]
        labels = []
        for entity, value in row["pii"]:
            start = text.find(value)
            if start < 0 or text.find(value, start + 1) >= 0:
                raise ValueError(f"{path.name}:{number}: {value!r} must occur once in its text")
            labels.append((entity, start, start + len(value)))
        samples.append(Sample(text, tuple(labels), row.get("locale", "")))
    return samples


def score(
    samples: Iterable[Sample], detect: Detector, entities: Iterable[str]
) -> dict[str, EntityScore]:
    scores = {entity: EntityScore(entity) for entity in entities}
    for sample in samples:
        detected = {label for label in detect(sample.text) if label[0] in scores}
        labelled = {label for label in sample.labels if label[0] in scores}
        for entity, entity_score in scores.items():
            want = {label for label in labelled if label[0] == entity}
            got = {label for label in detected if label[0] == entity}
            entity_score.labelled += len(want)
            entity_score.found += len(want & got)
            entity_score.detections += len(got)
            entity_score.misses += [_show(sample.text, label) for label in sorted(want - got)]
            entity_score.mistakes += [_show(sample.text, label) for label in sorted(got - want)]
            if not want:
                entity_score.negatives += 1
                entity_score.false_positive_samples += bool(got)
    return scores


def _show(text: str, label: Label) -> str:
    entity, start, end = label
    return f"{entity} {text[start:end]!r} in {text!r}"
