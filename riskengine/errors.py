"""Exception hierarchy.

Every error riskengine raises for bad input derives from :class:`RiskEngineError`;
the CLI turns it into one line on stderr and exit code 1. Messages say what was
expected, what was received and how to fix it, naming the file, row and column.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class RiskEngineError(Exception):
    """Base class of every error caused by the user's input or request."""


class DataError(RiskEngineError):
    """A data file or table is missing, malformed or inconsistent.

    Parameters
    ----------
    message
        Headline of the error.
    problems
        One line per problem found (every failing row, not only the first).
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        self.problems = list(problems)
        text = message
        if self.problems:
            shown = self.problems[:50]
            text += "\n" + "\n".join(f"  - {p}" for p in shown)
            if len(self.problems) > len(shown):
                text += f"\n  ... and {len(self.problems) - len(shown)} more problems"
        super().__init__(text)


class ConsistencyError(DataError):
    """Tables are individually valid but contradict each other (raised when ``strict``)."""


class ScenarioError(RiskEngineError):
    """A scenario file or scenario object is invalid."""


class UnknownLabelError(RiskEngineError):
    """A mineral, country, stage, year, method or other label is not known.

    Parameters
    ----------
    kind
        What was looked up, e.g. ``"mineral"``.
    unknown
        The labels that were not found.
    valid
        The labels that are available.
    """

    def __init__(self, kind: str, unknown: Iterable[object], valid: Iterable[object]) -> None:
        self.kind = kind
        self.unknown = [str(u) for u in unknown]
        self.valid = [str(v) for v in valid]
        shown = self.valid[:60]
        more = "" if len(self.valid) <= 60 else f", ... ({len(self.valid)} in all)"
        kinds = _plural(kind)
        super().__init__(
            f"unknown {kinds if len(self.unknown) > 1 else kind}: {', '.join(self.unknown)}. "
            f"Valid {kinds}: {', '.join(shown)}{more}."
        )


def _plural(noun: str) -> str:
    """English plural of a label kind ("country" -> "countries", "mineral" -> "minerals")."""
    if noun.endswith("y") and noun[-2:-1] not in set("aeiou"):
        return noun[:-1] + "ies"
    return noun + "s"


class CoordinateError(DataError):
    """An array or table does not use the dataset's canonical coordinates."""

    def __init__(
        self, what: str, axis: str, extra: Iterable[object], missing: Iterable[object]
    ) -> None:
        extra_l = [str(x) for x in extra]
        missing_l = [str(x) for x in missing]
        parts = []
        if extra_l:
            parts.append(f"extra {axis} labels not in the dataset: {', '.join(extra_l[:30])}")
        if missing_l:
            parts.append(f"missing {axis} labels: {', '.join(missing_l[:30])}")
        super().__init__(
            f"{what} does not match the dataset's {axis} coordinates ({'; '.join(parts)}). "
            f"Reindex it on the dataset's {axis} index before passing it."
        )
