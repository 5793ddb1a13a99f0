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


class ArgumentError(RiskEngineError, ValueError):
    """An argument of a public function has the wrong type or value.

    Built by :func:`bad_argument`, the one message template for bad arguments:
    ``<function>: <name> must be <expected>, got <received>; <fix>``.
    """


def bad_argument(
    function: str, name: str, expected: str, got: object, fix: str = ""
) -> ArgumentError:
    """Return the error for a bad argument, in the one message template.

    Examples
    --------
    >>> str(bad_argument("simulate", "seed", "a non-negative integer", 1.5, "pass seed=1"))
    'simulate: seed must be a non-negative integer, got 1.5 (float); pass seed=1'
    """
    shown = repr(got)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    text = f"{function}: {name} must be {expected}, got {shown} ({type(got).__name__})"
    return ArgumentError(text + (f"; {fix}" if fix else ""))


def check_labels(function: str, name: str, value: object) -> object:
    """Check that ``value`` is None, one string, or a sequence of strings.

    A single string is one label (``minerals="cobalt"``), never its letters.
    Returns ``value`` unchanged.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Iterable) and not isinstance(value, bytes | dict):
        items = list(value)
        bad = [v for v in items if not isinstance(v, str)]
        if not bad:
            return value
    raise bad_argument(
        function,
        name,
        "a string or a list of strings",
        value,
        f"write {name}='cobalt' or {name}=['cobalt', 'lithium']"
        if name in ("minerals", "mineral")
        else f"write {name}='CHN' or {name}=['CHN', 'COD']"
        if name in ("countries", "exporters", "importers")
        else f"write {name}=['{name[:-1] if name.endswith('s') else name}', ...]",
    )


def check_int(
    function: str, name: str, value: object, *, minimum: int | None = None, optional: bool = False
) -> int | None:
    """Check an integer argument (bool and float refused) and return it as ``int``."""
    import numbers

    if value is None and optional:
        return None
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if ok and (minimum is None or int(value) >= minimum):  # type: ignore[call-overload]
        return int(value)  # type: ignore[call-overload]
    if minimum == 0:
        expected = "a non-negative integer"
    elif minimum is not None:
        expected = f"an integer >= {minimum}"
    else:
        expected = "an integer"
    hint = f"pass {name}={int(value)}" if isinstance(value, float) and value.is_integer() else ""
    raise bad_argument(function, name, expected, value, hint)


def check_number(
    function: str,
    name: str,
    value: object,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    fix: str = "",
) -> float:
    """Check a finite real number within inclusive bounds and return it as ``float``."""
    import math
    import numbers

    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if ok and math.isfinite(float(value)):  # type: ignore[arg-type]
        number = float(value)  # type: ignore[arg-type]
        if (minimum is None or number >= minimum) and (maximum is None or number <= maximum):
            return number
    if minimum is not None and maximum is not None:
        expected = f"a number between {minimum:g} and {maximum:g}"
    elif minimum is not None:
        expected = f"a number >= {minimum:g}"
    elif maximum is not None:
        expected = f"a number <= {maximum:g}"
    else:
        expected = "a finite number"
    raise bad_argument(function, name, expected, value, fix)


class AmbiguousLabelError(UnknownLabelError):
    """A name matches several labels (``Congo``: COD or COG); the user must choose.

    Parameters
    ----------
    kind
        What was looked up, e.g. ``"country"``.
    label
        The name as given.
    candidates
        Each possible code with its readable name.
    """

    def __init__(self, kind: str, label: str, candidates: dict[str, str]) -> None:
        self.kind = kind
        self.unknown = [label]
        self.valid = list(candidates)
        self.candidates = dict(candidates)
        choices = " or ".join(f"{code} ({name})" for code, name in candidates.items())
        RiskEngineError.__init__(self, f"{label!r} is ambiguous: {choices}; write the ISO3 code")
