"""Reading scenario files: YAML with line numbers, errors that say where and what.

:func:`load_scenario` parses a YAML file, validates it with
:class:`~riskengine.scenarios.models.Scenario` and turns every validation
problem into one line ``file:line: path: what was expected (valid choices)``.
The line numbers come from the YAML node marks, so that a wrong value in a
long file is found at once. Bundled scenarios (``scenarios/`` in a checkout,
``riskengine/_scenarios`` in an installed wheel) are found by name.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from riskengine.errors import ScenarioError
from riskengine.io.bounded import load_yaml, read_text_capped
from riskengine.scenarios.models import (
    SHOCK_TYPES,
    DemandShock,
    Elasticity,
    ExportBan,
    ExportQuota,
    Market,
    NewSupply,
    Partnership,
    ProductionDisruption,
    Scenario,
    StockpileRelease,
    format_path,
    line_of,
)

logger = logging.getLogger(__name__)

Path_ = tuple[str | int, ...]

SHOCK_MODELS: dict[str, type[BaseModel]] = {
    "export_ban": ExportBan,
    "export_quota": ExportQuota,
    "production_disruption": ProductionDisruption,
    "new_supply": NewSupply,
    "demand_shock": DemandShock,
    "stockpile_release": StockpileRelease,
    "partnership": Partnership,
}

SUFFIXES: tuple[str, ...] = (".yaml", ".yml")


# ------------------------------------------------------------------ locations
@cache
def default_scenarios_dir() -> Path:
    """Directory of the bundled scenario library.

    The wheel ships it as ``riskengine/_scenarios``; in a source checkout it is
    the top-level ``scenarios/`` folder.
    """
    packaged = Path(str(resources.files("riskengine"))) / "_scenarios"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "scenarios"
    if checkout.is_dir():
        return checkout
    raise ScenarioError(
        "the bundled scenario library is missing from this installation; reinstall "
        "riskengine or pass the path of a scenario file"
    )


def list_scenarios(directory: str | Path | None = None) -> list[Path]:
    """Scenario files (``*.yaml``, ``*.yml``) of a directory, sorted by name.

    Parameters
    ----------
    directory
        Folder to list; None lists the bundled library.
    """
    folder = default_scenarios_dir() if directory is None else Path(directory)
    return sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())


def find_scenario(name: str | Path) -> Path:
    """Resolve a scenario file path or the name of a bundled scenario.

    Parameters
    ----------
    name
        A path to a YAML file, or the file name (with or without ``.yaml``)
        of a scenario in the bundled library.

    Raises
    ------
    ScenarioError
        When neither exists, listing the bundled scenarios.
    """
    path = Path(name)
    if path.is_file():
        return path
    if path.parent == Path(".") and str(name):
        try:
            library = default_scenarios_dir()
        except ScenarioError:
            library = None
        if library is not None:
            for suffix in ("", *SUFFIXES):
                candidate = library / f"{path.name}{suffix}"
                if candidate.is_file() and candidate.suffix in SUFFIXES:
                    return candidate
            names = ", ".join(p.stem for p in list_scenarios(library))
            raise ScenarioError(
                f"{name}: no such file, and no bundled scenario of that name. "
                f"Bundled scenarios: {names}"
            )
    raise ScenarioError(f"{name}: no such scenario file")


# ----------------------------------------------------------------------- YAML
def _read_yaml(text: str, origin: str) -> tuple[Any, dict[Path_, int]]:
    """Parse once with the bounded loader (:mod:`riskengine.io.bounded`).

    Returns the data and the line of every path, for the pydantic errors.
    """
    return load_yaml(text, origin, error=ScenarioError)


# -------------------------------------------------------- validation errors
def _strip_tags(loc: tuple[Any, ...]) -> Path_:
    """Drop pydantic's union-member markers from an error location."""
    out: list[str | int] = []
    for i, part in enumerate(loc):
        if (
            isinstance(part, str)
            and i >= 2
            and loc[i - 2] == "shocks"
            and isinstance(loc[i - 1], int)
            and part in SHOCK_TYPES
        ):
            continue
        if isinstance(part, str) and ("[" in part or "'" in part or part.startswith("function-")):
            continue  # union member markers such as "list[str]" or "literal['all']"
        out.append(part)
    return tuple(out)


def _model_at(path: Path_, data: Any) -> type[BaseModel] | None:
    """Return the model that validates the mapping found at ``path``."""
    model: type[BaseModel] | None = Scenario
    node = data
    i = 0
    while i < len(path):
        part = path[i]
        if model is Scenario and part == "shocks" and i + 1 < len(path):
            try:
                item = node["shocks"][path[i + 1]]
                model = SHOCK_MODELS.get(item.get("type"))
                node = item
            except (KeyError, IndexError, TypeError, AttributeError):
                return None
            i += 2
            continue
        if model is Scenario and part == "market":
            model = Market
            i += 1
        elif model is Market and part == "elasticities" and i + 1 < len(path):
            model = Elasticity
            i += 2
        else:
            return None
    return model


def _fields(model: type[BaseModel] | None) -> str:
    if model is None:
        return ""
    return ", ".join(model.model_fields)


def _message(err: Any, path: Path_, data: Any) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "extra_forbidden":
        fields = _fields(_model_at(path[:-1], data))
        return f"unexpected field {path[-1]!r}" + (f"; valid fields: {fields}" if fields else "")
    if kind == "missing":
        return f"missing required field {path[-1]!r}"
    if kind == "union_tag_invalid":
        return f"unknown shock type {ctx.get('tag')!r}; valid types: {', '.join(SHOCK_TYPES)}"
    if kind == "union_tag_not_found":
        return f"the shock has no 'type'; valid types: {', '.join(SHOCK_TYPES)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping of fields, got {given!r}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        return msg.removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return f"expected a mineral id in lower snake case (e.g. rare_earths), got {given!r}"
    return f"{msg[0].lower()}{msg[1:]} (got {given!r})"


def _problems(exc: ValidationError, data: Any) -> list[tuple[Path_, str]]:
    """One message per location; the alternatives of a union are merged."""
    by_path: dict[Path_, list[str]] = {}
    given: dict[Path_, Any] = {}
    for err in exc.errors():
        path = _strip_tags(tuple(err["loc"]))
        message = _message(err, path, data)
        if message not in by_path.setdefault(path, []):
            by_path[path].append(message)
        given[path] = err.get("input")
    out: list[tuple[Path_, str]] = []
    for path, messages in by_path.items():
        if len(messages) > 1 and all(m.startswith("input should be ") for m in messages):
            suffix = f" (got {given[path]!r})"
            parts = [m.removeprefix("input should be ").removesuffix(suffix) for m in messages]
            messages = [f"input should be {' or '.join(parts)}{suffix}"]
        out.extend((path, m) for m in messages)
    return out


def format_problems(origin: str, problems: list[tuple[Path_, str]], lines: dict[Path_, int]) -> str:
    """One ``file:line: path: message`` line per problem, under a headline."""
    rendered = []
    for path, message in problems:
        line = line_of(lines, path)
        where = f"{origin}:{line}" if line else origin
        rendered.append(f"{where}: {format_path(path)}: {message}")
    if len(rendered) == 1:
        return rendered[0]
    return f"{origin}: {len(rendered)} problems:\n" + "\n".join(f"  {r}" for r in rendered)


def parse_scenario(text: str, origin: str = "<scenario>") -> Scenario:
    """Validate a scenario given as YAML text.

    Parameters
    ----------
    text
        The YAML document.
    origin
        Name used in error messages (usually the file path).

    Raises
    ------
    ScenarioError
        Listing every problem as ``origin:line: path: message``.
    """
    data, lines = _read_yaml(text, origin)
    if not isinstance(data, dict):
        raise ScenarioError(
            f"{origin}: expected a YAML mapping with name, description, year, sources and "
            f"shocks, got {type(data).__name__}"
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(format_problems(origin, _problems(exc, data), lines)) from exc
    scenario._origin = origin
    scenario._lines = lines
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        A YAML file, or the name of a bundled scenario (``riskengine scenario
        list`` shows them).

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        When the file is missing, is not valid YAML or does not follow the
        scenario format; the message names the file, line and field, what was
        expected and the valid choices.

    Examples
    --------
    >>> from riskengine.scenarios import load_scenario
    >>> load_scenario("cn-graphite-licences-2023").year
    2024
    """
    file = find_scenario(path)
    text = read_text_capped(file, ScenarioError, "scenario file")
    return parse_scenario(text, origin=str(file))
