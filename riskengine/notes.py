"""Notes of results: data gaps and choices, each of a kind, summarised one line per kind.

A data gap is met in several places: the dataset's consistency checks
(:func:`riskengine.dataset.check_dataset`), each scoring method (production
withheld, flows without a quantity, missing governance scores), and once per
scored dataset when a scenario scores the baseline and the shocked data. A
:class:`Note` is the text of one such report together with its ``kind``, the
items it concerns and their count, so that :func:`summarize` can report each
gap once, as one line per kind with a count, and keep the details (every item)
for whoever asks for them.

A note is a ``str``: results keep storing notes as text (``Result.notes``),
and code that only reads the text is unaffected. Plain strings are notes
without a kind; :func:`summarize` keeps them as they are, once each.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from riskengine.dataset import Dataset

#: Kinds of data gap with their summary label (the text after the count).
KINDS: dict[str, str] = {
    "production_withheld": (
        "production figure(s) withheld or not available in the source, left out of shares"
    ),
    "trade_without_quantity": (
        "trade flow(s) without a quantity (only a value), left out of quantity measures"
    ),
    "trade_screened": (
        "trade flow(s) with an outlier unit value, left out of quantity measures "
        "(riskengine data check lists them)"
    ),
    "import_balance": (
        "mineral/stage/year(s) with world imports above 1.6x world production "
        "(contained tonnes; riskengine data check)"
    ),
    "mineral_undescribed": "mineral(s) with data but no row in minerals.csv",
    "governance_missing": "supplier(s) without a governance score",
    "unknown_ore_feed": (
        "mineral(s) with refiners of no known ore feed, each taken as its own ore origin"
    ),
}

#: Kind of each consistency check of :mod:`riskengine.dataset` (``Finding.check``).
CHECK_KINDS: dict[str, str] = {
    "check_missing_quantities": "production_withheld",
    "check_minerals_described": "mineral_undescribed",
    "check_trade_quantities": "trade_without_quantity",
    "check_unit_values": "trade_screened",
    "check_import_production_balance": "import_balance",
}


class Note(str):
    """The text of a note, with its kind, the items it concerns and their count.

    Parameters
    ----------
    text
        The full note, naming the items.
    kind
        Kind of gap (a key of :data:`KINDS`, or another name); empty for a
        note that stands alone.
    items
        Labels concerned (countries, ``mineral/stage/year/country`` cells...),
        possibly only the first few of them.
    total
        How many items in all (default: ``len(items)``).
    label
        Text after the count in the one-line summary (default: the kind's
        label in :data:`KINDS`).

    Examples
    --------
    >>> n = Note("no PV for PER, CHL", "governance_missing", items=("PER", "CHL"))
    >>> n == "no PV for PER, CHL", n.kind, n.total
    (True, 'governance_missing', 2)
    >>> n.summary
    '2 supplier(s) without a governance score'
    """

    kind: str
    items: tuple[str, ...]
    total: int
    label: str

    def __new__(
        cls,
        text: str,
        kind: str = "",
        *,
        items: Iterable[str] = (),
        total: int | None = None,
        label: str | None = None,
    ) -> Note:
        """Create the note (see the class's parameters)."""
        self = super().__new__(cls, text)
        self.kind = kind
        self.items = tuple(items)
        self.total = len(self.items) if total is None else int(total)
        self.label = KINDS.get(kind, "") if label is None else label
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self), self.kind, self.items, self.total, self.label))

    @property
    def summary(self) -> str:
        """One line: the count and the label, or the text of a note without a label."""
        return f"{self.total:,} {self.label}" if self.label else str(self)


def _rebuild(text: str, kind: str, items: tuple[str, ...], total: int, label: str) -> Note:
    return Note(text, kind, items=items, total=total, label=label)


def as_note(value: object) -> Note:
    """Return the :class:`Note` of a note, a text, a consistency finding or a warning.

    A warning issued with a :class:`Note` as its message carries it as its
    first argument; a :class:`~riskengine.dataset.Finding` takes the kind of
    its check (:data:`CHECK_KINDS`).
    """
    if isinstance(value, Note):
        return value
    if isinstance(value, Warning):
        first = value.args[0] if value.args else ""
        return first if isinstance(first, Note) else Note(str(value))
    check = getattr(value, "check", None)
    message = getattr(value, "message", None)
    if isinstance(check, str) and isinstance(message, str):
        items = tuple(getattr(value, "items", ()))
        kind = CHECK_KINDS.get(check, "")
        if kind in ("production_withheld", "mineral_undescribed", "import_balance"):
            return Note(message, kind, items=items)
        if kind in ("trade_without_quantity", "trade_screened"):
            return Note(message, kind, items=items, total=_leading_count(message))
        return Note(message, kind)
    return Note(str(value))


def _leading_count(text: str) -> int | None:
    """Return the number a message opens with (``"2,094 flows ..."`` -> 2094), if any."""
    head = text.split(" ", 1)[0].replace(",", "")
    return int(head) if head.isdigit() else None


@dataclass(frozen=True)
class Summary:
    """The notes of one kind, merged.

    Attributes
    ----------
    kind : str
        Kind of the notes (empty for a note that stands alone).
    line : str
        One line: the count and what it counts, or the note itself.
    detail : str
        The most detailed of the merged notes (naming the items).
    items : tuple of str
        Every item named by one of the notes.
    """

    kind: str
    line: str
    detail: str
    items: tuple[str, ...]

    @property
    def has_detail(self) -> bool:
        """Whether :attr:`detail` says more than :attr:`line`."""
        return self.detail != self.line


def summarize(notes: Iterable[object]) -> list[Summary]:
    """Merge notes into one summary per kind, in order of first appearance.

    Notes of the same kind and label (the same gap reported by the dataset
    checks and by each scoring) become one line whose count is the number of
    distinct items named, or the largest count given when a note names no
    items. Notes without a kind are kept once each; a long one of the form
    ``"what: item, item, ..."`` (over :data:`LONG_NOTE` characters) is
    summarised by its headline ``what``, the whole text being its detail.

    Parameters
    ----------
    notes
        Notes, texts, findings or warnings (:func:`as_note`).

    Returns
    -------
    list of Summary

    Examples
    --------
    >>> lines = summarize([
    ...     Note("3 flows lack a quantity", "trade_without_quantity", total=3),
    ...     Note("3 trade flow(s) without a quantity", "trade_without_quantity", total=3),
    ...     "a note of its own",
    ... ])
    >>> [s.line for s in lines]  # doctest: +NORMALIZE_WHITESPACE
    ['3 trade flow(s) without a quantity (only a value), left out of quantity measures',
     'a note of its own']
    """
    groups: dict[tuple[str, str], list[Note]] = {}
    for value in notes:
        note = as_note(value)
        key = (note.kind, note.label) if note.label else ("", str(note))
        groups.setdefault(key, []).append(note)
    out = []
    for (kind, label), members in groups.items():
        items = tuple(dict.fromkeys(i for n in members for i in n.items))
        detail = max(members, key=lambda n: (len(n.items), len(n)))
        if kind or members[0].label:
            count = max([len(items), *(n.total for n in members)])
            line = f"{count:,} {label}"
        else:
            line = _headline(str(members[0]))
        out.append(Summary(kind, line, str(detail), items))
    return out


def warn_findings(ds: Dataset, *, strict: bool = False) -> list[Note]:
    """Run the dataset's consistency checks; issue each finding as a warning carrying its kind.

    As :func:`riskengine.dataset.warn_findings`, but the warning's message is a
    :class:`Note` of the check's kind (:data:`CHECK_KINDS`), so that the same
    gap reported again by a scoring method is summarised with it.

    Returns
    -------
    list of Note
        The findings as notes.

    Raises
    ------
    ConsistencyError
        When ``strict`` and a check finds something.
    """
    from riskengine.dataset import RiskEngineWarning, check_dataset

    found = [as_note(f) for f in check_dataset(ds, strict=strict)]
    for note in found:
        warnings.warn(note, RiskEngineWarning, stacklevel=2)
    return found


#: Length above which a note without a kind is summarised by its headline.
LONG_NOTE = 160


def _headline(text: str) -> str:
    """Shorten a long note ``"what: item, item, ..."`` to its headline ``"what"``."""
    if len(text) <= LONG_NOTE or ": " not in text:
        return text
    return text.split(": ", 1)[0]


def notes_frame(notes: Sequence[object], sources: Sequence[str] = ()) -> pd.DataFrame:
    """Tabulate notes and sources: one row per note (full text), then one per source.

    Columns ``section`` (``note`` or ``source``), ``kind``, ``count`` (NaN for
    sources and notes without a count), ``summary`` and ``text``; the table of
    the notes sheet of an xlsx workbook.
    """
    rows: list[dict[str, object]] = []
    seen: set[str] = set()
    for value in notes:
        note = as_note(value)
        if str(note) in seen:
            continue
        seen.add(str(note))
        rows.append(
            {
                "section": "note",
                "kind": note.kind,
                "count": float(note.total) if note.label else float("nan"),
                "summary": note.summary,
                "text": str(note),
            }
        )
    rows += [
        {"section": "source", "kind": "", "count": float("nan"), "summary": s, "text": s}
        for s in sources
    ]
    return pd.DataFrame(rows, columns=["section", "kind", "count", "summary", "text"])
