"""Word-level precision and recall of the layout fix on tests/data/text_layout.tsv."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from realtime.server.text.layout import LayoutFixer, fix_layout

DATA = Path(__file__).resolve().parents[2] / "data" / "text_layout.tsv"


@dataclass
class Score:
    true_pos: int = 0  # a wrong-layout word changed to the right word
    false_pos: int = 0  # a word changed that should not have been, or changed to the wrong word
    false_neg: int = 0  # a wrong-layout word left alone
    mistakes: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.true_pos / max(1, self.true_pos + self.false_pos)

    @property
    def recall(self) -> float:
        return self.true_pos / max(1, self.true_pos + self.false_neg)


@dataclass(frozen=True)
class Item:
    category: str
    given: str
    expected: str
    hints: tuple[str, ...] = ()  # from `hint:<lang>` in the context column
    context: tuple[str, ...] = ()  # from `prev:<text>`: the previous message


def load() -> list[Item]:
    with DATA.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        items = []
        for row in reader:
            extra = row[3] if len(row) > 3 else ""
            hints = (extra[5:],) if extra.startswith("hint:") else ()
            context = (extra[5:],) if extra.startswith("prev:") else ()
            items.append(Item(row[0], row[1], row[2], hints, context))
        return items


def evaluate(fixer: LayoutFixer) -> Score:
    score = Score()
    for item in load():
        given, expected = item.given, item.expected
        got = fix_layout(given, fixer, item.hints, item.context)
        for g, e, o in zip(given.split(), expected.split(), got.split(), strict=True):
            if g == e:
                if o != g:
                    score.false_pos += 1
            elif o == e:
                score.true_pos += 1
            elif o == g:
                score.false_neg += 1
            else:
                score.false_pos += 1
        if got != expected:
            score.mistakes.append((given, expected, got))
    return score


if __name__ == "__main__":
    s = evaluate(LayoutFixer())
    for given, expected, got in s.mistakes:
        print(f"{given!r}\n   want {expected!r}\n   got  {got!r}")
    print(
        f"precision {s.precision:.4f} recall {s.recall:.4f} tp={s.true_pos} fp={s.false_pos} fn={s.false_neg}"
    )
