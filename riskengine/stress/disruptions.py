r"""Disruption model of the Monte Carlo simulation: who disrupts, how often, how badly.

Each draw of :func:`riskengine.simulate` decides, for every exporter ``e`` and
mineral ``m``, whether ``e`` disrupts its exports of ``m`` (a Bernoulli draw
with probability ``p_em``) and how badly (a severity ``s`` in [0, 1], the
fraction of its exports of ``m`` - every stage - that stops).

Default mapping
---------------
The probability comes from the exporter's WGI political stability and
absence of violence estimate (``PV``, about -2.5 to 2.5) through a logistic
curve:

.. math:: p = \frac{1}{1 + \exp(-(a + b \cdot PV))}, \qquad a = -3,\ b = -1

so that ``PV = 1.5`` gives 1.1 % a year, ``PV = 0`` 4.7 %, ``PV = -1`` 11.9 %
and ``PV = -2.5`` 37.8 %. The severity of a disruption is drawn from a
``Beta(2, 3)`` distribution (mean 0.4, mode 1/3). Both are riskengine's
assumptions, stated so that they can be argued with and replaced, not
estimates: override the curve, the indicator, the severity distribution, or
give probabilities and severities per country and mineral.

Overriding
----------
In Python, pass a :class:`DisruptionModel` (or a mapping of its fields) to
:func:`riskengine.simulate`, or ``probability=`` / ``severity=`` keywords; in a
file, write the same fields in YAML and load it with
:func:`load_disruption_model` (errors name the file, line and field)::

    # disruptions.yaml
    probability: {indicator: PV, intercept: -3.0, slope: -1.0, missing_value: 0.0}
    severity: {distribution: beta, alpha: 2.0, beta: 3.0}
    overrides:
      - {country: CHN, mineral: gallium, probability: 0.5,
         severity: {distribution: fixed, value: 0.8}}
      - {country: COD, probability: 0.2}          # every mineral COD exports

Overrides apply in file order; a later one wins where two match.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from riskengine.dims import WGI_INDICATORS
from riskengine.errors import RiskEngineError
from riskengine.io.bounded import load_yaml, read_text_capped

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Severity(_Model):
    """Distribution of the fraction of exports a disruption stops.

    ``beta``: ``Beta(alpha, beta)``; ``fixed``: always ``value``.
    """

    distribution: Literal["beta", "fixed"] = Field(
        default="beta", description="beta (random) or fixed."
    )
    alpha: float = Field(default=2.0, gt=0.0, le=1000.0, description="Beta shape alpha.")
    beta: float = Field(default=3.0, gt=0.0, le=1000.0, description="Beta shape beta.")
    value: Fraction | None = Field(default=None, description="Severity of a fixed distribution.")

    @model_validator(mode="after")
    def _fixed_has_value(self) -> Severity:
        if self.distribution == "fixed" and self.value is None:
            raise ValueError("a fixed severity needs a value (0-1)")
        return self

    @property
    def mean(self) -> float:
        """Expected severity."""
        if self.distribution == "fixed":
            assert self.value is not None
            return float(self.value)
        return self.alpha / (self.alpha + self.beta)


class ProbabilityMapping(_Model):
    """Logistic curve from a WGI estimate to a yearly disruption probability."""

    indicator: Literal["VA", "PV", "GE", "RQ", "RL", "CC"] = Field(
        default="PV", description="WGI indicator the probability depends on."
    )
    intercept: float = Field(default=-3.0, description="a in p = 1 / (1 + exp(-(a + b x))).")
    slope: float = Field(default=-1.0, description="b in p = 1 / (1 + exp(-(a + b x))).")
    missing_value: float | Literal["raise"] = Field(
        default=0.0,
        description="WGI estimate assumed for exporters without one (a warning names them), "
        "or 'raise'.",
    )
    constant: Fraction | None = Field(
        default=None,
        description="When given, every exporter gets this probability (the curve is not used).",
    )

    def probability(self, estimate: np.ndarray) -> np.ndarray:
        """Apply the curve to WGI estimates (NaN stays NaN)."""
        x = np.asarray(estimate, dtype=float)
        if self.constant is not None:
            return np.full(x.shape, float(self.constant))
        z = self.intercept + self.slope * x
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(-z))


class Override(_Model):
    """Probability and/or severity of one country (for one mineral, or all)."""

    country: str = Field(min_length=2, description="ISO3 code or country name.")
    mineral: str | None = Field(
        default=None, pattern=r"^[a-z][a-z0-9_]*$", description="Mineral id; omit for all."
    )
    probability: Fraction | None = Field(default=None, description="Yearly probability, 0-1.")
    severity: Severity | None = None

    @model_validator(mode="after")
    def _something(self) -> Override:
        if self.probability is None and self.severity is None:
            raise ValueError("an override needs a probability, a severity or both")
        return self


class DisruptionModel(_Model):
    """Which exporters disrupt which minerals in a Monte Carlo draw, and how badly.

    See the module documentation for the default mapping and the file format.
    """

    probability: ProbabilityMapping = Field(default_factory=ProbabilityMapping)
    severity: Severity = Field(default_factory=Severity)
    overrides: list[Override] = Field(default_factory=list)

    _origin: str | None = PrivateAttr(default=None)
    _lines: dict[tuple[str | int, ...], int] = PrivateAttr(default_factory=dict)

    def where(self, path: tuple[str | int, ...]) -> str:
        """``file:line: path`` of a field (just the path for models built in Python)."""
        text = _format_path(path)
        if self._origin is None:
            return text
        line = _line_of(self._lines, path)
        return f"{self._origin}:{line}: {text}" if line else f"{self._origin}: {text}"


def _format_path(path: tuple[str | int, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + str(part)
    return out or "(document)"


def _line_of(lines: dict[tuple[str | int, ...], int], path: tuple[str | int, ...]) -> int | None:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return None


def parse_disruption_model(text: str, origin: str = "<disruption model>") -> DisruptionModel:
    """Validate a disruption model given as YAML text.

    Raises
    ------
    RiskEngineError
        Listing every problem as ``origin:line: field: message``.
    """
    # one parse with the bounded loader: size cap, node budget, duplicate keys refused
    data, lines = load_yaml(text, origin, error=RiskEngineError)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise RiskEngineError(
            f"{origin}: expected a mapping with probability, severity and overrides, got "
            f"{type(data).__name__}"
        )
    try:
        model = DisruptionModel.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            path = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
            at = _line_of(lines, path)
            where = f"{origin}:{at}" if at else origin
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unexpected field {path[-1]!r}"
            elif err["type"] != "value_error":
                msg = f"{msg[0].lower()}{msg[1:]} (got {err.get('input')!r})"
            problems.append(f"{where}: {_format_path(path)}: {msg}")
        if len(problems) == 1:
            raise RiskEngineError(problems[0]) from exc
        raise RiskEngineError(
            f"{origin}: {len(problems)} problems:\n" + "\n".join(f"  {p}" for p in problems)
        ) from exc
    model._origin = origin
    model._lines = lines
    return model


def load_disruption_model(path: str | Path) -> DisruptionModel:
    """Read and validate a disruption model file (YAML).

    Raises
    ------
    RiskEngineError
        When the file cannot be read or is invalid; the message names the file,
        the line and the field.
    """
    file = Path(path)
    text = read_text_capped(file, RiskEngineError, "disruption model")
    return parse_disruption_model(text, origin=str(file))


def as_model(
    model: DisruptionModel | Mapping[str, Any] | str | Path | None,
    probability: float | Mapping[str, float | Mapping[str, float]] | None = None,
    severity: float | tuple[float, float] | Severity | None = None,
) -> DisruptionModel:
    """Build the model from a model, a mapping or a file, plus keyword overrides.

    Parameters
    ----------
    model
        A :class:`DisruptionModel`, a mapping of its fields, a YAML file, or
        None for the default.
    probability
        A probability for every exporter and mineral (a number), or per
        country (``{"CHN": 0.1}``) or per country and mineral
        (``{"CHN": {"gallium": 0.5}}``); appended to the overrides.
    severity
        Replaces the severity distribution: a number (fixed), ``(alpha,
        beta)`` of a Beta distribution, or a :class:`Severity`.
    """
    if model is None:
        out = DisruptionModel()
    elif isinstance(model, DisruptionModel):
        out = model
    elif isinstance(model, str | Path):
        out = load_disruption_model(model)
    else:
        try:
            out = DisruptionModel.model_validate(dict(model))
        except ValidationError as exc:
            raise RiskEngineError(f"invalid disruption model: {exc}") from exc
    updates: dict[str, Any] = {}
    try:
        if severity is not None:
            if isinstance(severity, Severity):
                updates["severity"] = severity
            elif isinstance(severity, tuple):
                updates["severity"] = Severity(
                    distribution="beta", alpha=severity[0], beta=severity[1]
                )
            else:
                updates["severity"] = Severity(distribution="fixed", value=float(severity))
        if probability is not None:
            extra: list[Override] = []
            if isinstance(probability, Mapping):
                for country, value in probability.items():
                    if isinstance(value, Mapping):
                        extra.extend(
                            Override(country=country, mineral=m, probability=float(p))
                            for m, p in value.items()
                        )
                    else:
                        extra.append(Override(country=country, probability=float(value)))
            else:
                updates["probability"] = out.probability.model_copy(
                    update={"constant": _fraction(float(probability))}
                )
            updates["overrides"] = [*out.overrides, *extra]
    except ValidationError as exc:
        raise RiskEngineError(f"invalid probability or severity: {exc}") from exc
    if not updates:
        return out
    new = out.model_copy(update=updates)
    new._origin = out._origin
    new._lines = dict(out._lines)
    return new


def _fraction(p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise RiskEngineError(f"probability must be in [0, 1], got {p}")
    return p


#: Position of each WGI indicator on the governance axis.
INDICATOR_INDEX: dict[str, int] = {name: i for i, name in enumerate(WGI_INDICATORS)}
