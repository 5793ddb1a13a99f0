"""Scoring methods, selectable by name through :func:`score`.

========== ==========================================================
name       method
========== ==========================================================
riskengine riskengine's composite (:func:`~riskengine.methods.composite.composite`)
geopolrisk GeoPolRisk (:func:`~riskengine.methods.geopolrisk.geopolrisk`)
eu         EU CRM supply risk (:func:`~riskengine.methods.eu.eu_supply_risk`)
========== ==========================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from riskengine.dataset import Dataset
from riskengine.errors import RiskEngineError, UnknownLabelError
from riskengine.methods.base import ScoreResult
from riskengine.methods.composite import composite
from riskengine.methods.eu import eu_supply_risk
from riskengine.methods.geopolrisk import geopolrisk

METHODS: dict[str, Callable[..., ScoreResult]] = {
    "riskengine": composite,
    "geopolrisk": geopolrisk,
    "eu": eu_supply_risk,
}

DEFAULT_METHOD = "riskengine"


def score(dataset: Dataset, method: str = DEFAULT_METHOD, **params: Any) -> ScoreResult:
    """Score a dataset with a named method.

    Parameters
    ----------
    dataset
        The dataset (see :func:`riskengine.load_dataset`).
    method
        One of :data:`METHODS`: ``"riskengine"`` (default), ``"geopolrisk"``, ``"eu"``.
    **params
        The method's parameters (``minerals``, ``stages``, ``years``, ...).

    Returns
    -------
    ScoreResult

    Examples
    --------
    >>> import riskengine
    >>> result = riskengine.score(riskengine.load_dataset(), method="geopolrisk")
    >>> sorted(result.to_frame().columns)[:3]
    ['cf', 'country', 'hhi']
    """
    if method not in METHODS:
        raise UnknownLabelError("method", [method], METHODS)
    func = METHODS[method]
    try:
        return func(dataset, **params)
    except TypeError as exc:
        if "unexpected keyword argument" in str(exc):
            raise RiskEngineError(f"method {method!r}: {exc}") from exc
        raise


def against_baseline(method: str, baseline: Dataset) -> dict[str, Dataset]:
    """``{"baseline": baseline}`` for a method that scores a shock as lost supply, else ``{}``.

    The composite (``riskengine``) scores a shocked dataset against the
    dataset it was shocked from, so that a country whose supply falls never
    scores lower (:func:`riskengine.methods.composite.composite`, "After a
    shock"); GeoPolRisk and the EU method score the supply mix that remains.
    """
    import inspect

    if method not in METHODS:
        raise UnknownLabelError("method", [method], METHODS)
    takes = "baseline" in inspect.signature(METHODS[method]).parameters
    return {"baseline": baseline} if takes else {}


__all__ = ["DEFAULT_METHOD", "METHODS", "ScoreResult", "against_baseline", "score"]
