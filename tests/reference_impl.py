"""Slow, obviously-correct loop implementations of the index kernels.

Written from the formulas in ``docs/methods.md``, one country at a
time with plain Python floats, independently of :mod:`riskengine.indices`.
They serve two purposes:

* the test suite checks the vectorized kernels against them on random tensors;
* the benchmarks use them as the "loop baseline".

Each function works on a single vector or matrix (nested lists or numpy arrays)
and returns a ``float`` or (nested) ``list`` of floats. Trade matrices are
indexed ``F[e][i]``: flow from exporter ``e`` to importer ``i``. Use
:func:`over_leading_axes` to apply a function over any number of leading axes
(mineral, stage, year ...), still one slice at a time.

Conventions mirrored from docs/methods.md: shares are fractions; HHI is on the 0-1
scale; 0/0 is NaN (never 0); NaN inputs propagate.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

NAN = math.nan
WGI_MAX = 2.5

Vector = Sequence[float]
Matrix = Sequence[Sequence[float]]


def _floats(x: Any) -> list[float]:
    return [float(v) for v in x]


def _matrix(x: Any) -> list[list[float]]:
    return [[float(v) for v in row] for row in x]


def _div(num: float, den: float) -> float:
    """IEEE-style division without exceptions: 0/0 and NaN give NaN."""
    if math.isnan(num) or math.isnan(den):
        return NAN
    if den == 0.0:
        if num == 0.0:
            return NAN
        return math.copysign(math.inf, num) * math.copysign(1.0, den)
    return num / den


def _clip(x: float, lo: float, hi: float) -> float:
    if math.isnan(x):
        return NAN
    return min(max(x, lo), hi)


# --------------------------------------------------------------------------
# 1. Concentration
# --------------------------------------------------------------------------


def shares(production: Vector) -> list[float]:
    """``S_c = P_c / Σ P`` (NaN everywhere when the total is 0 or NaN)."""
    p = _floats(production)
    total = sum(p)
    return [_div(v, total) for v in p]


def hhi(production: Vector) -> float:
    """``HHI = Σ S_c²`` on the 0-1 scale."""
    s = shares(production)
    if not s:
        return NAN
    total = 0.0
    for s_c in s:
        total += s_c * s_c
    return total


def concentration_ratio(production: Vector, k: int = 1) -> float:
    """``CR_k``: sum of the ``k`` largest shares."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    s = shares(production)
    if any(math.isnan(v) for v in s):
        return NAN
    ranked = sorted(s, reverse=True)
    total = 0.0
    for v in ranked[:k]:
        total += v
    return total


def effective_suppliers(production: Vector) -> float:
    """``1 / HHI``."""
    return _div(1.0, hhi(production))


def weighted_hhi(production: Vector, weights: Vector) -> float:
    """``Σ_c S_c² · w_c`` (EU ``HHI_WGI,t``); suppliers with zero share contribute 0."""
    s = shares(production)
    w = _floats(weights)
    total = 0.0
    for s_c, w_c in zip(s, w, strict=True):
        if s_c == 0.0:
            continue  # no supply: its weight (even unknown) does not matter
        total += s_c * s_c * w_c
    return total


# --------------------------------------------------------------------------
# 2. Trade-side measures (F[e][i])
# --------------------------------------------------------------------------


def import_mix(flows: Matrix) -> list[list[float]]:
    """``A[e][i] = F[e][i] / Σ_e' F[e'][i]``."""
    f = _matrix(flows)
    n_e = len(f)
    n_i = len(f[0]) if n_e else 0
    out = [[NAN] * n_i for _ in range(n_e)]
    for i in range(n_i):
        column = [f[e][i] for e in range(n_e)]
        for e, s in enumerate(shares(column)):
            out[e][i] = s
    return out


def import_hhi(flows: Matrix) -> list[float]:
    """HHI of each importer's suppliers (one value per importer ``i``)."""
    f = _matrix(flows)
    n_i = len(f[0]) if f else 0
    return [hhi([row[i] for row in f]) for i in range(n_i)]


def destination_mix(flows: Matrix) -> list[list[float]]:
    """``D[e][i] = F[e][i] / Σ_i' F[e][i']``."""
    return [shares(row) for row in _matrix(flows)]


def destination_hhi(flows: Matrix) -> list[float]:
    """HHI of each exporter's destinations (one value per exporter ``e``)."""
    return [hhi(row) for row in _matrix(flows)]


def imports_exports(flows: Matrix) -> tuple[list[float], list[float]]:
    """Imports ``M_c = Σ_e F[e][c]`` and exports ``X_c = Σ_i F[c][i]``."""
    f = _matrix(flows)
    n = len(f)
    imports = [0.0] * n
    exports = [0.0] * n
    for e in range(n):
        for i in range(n):
            imports[i] += f[e][i]
            exports[e] += f[e][i]
    return imports, exports


def apparent_consumption(production: Vector, flows: Matrix) -> list[float]:
    """``C_c = P_c + M_c - X_c``."""
    p = _floats(production)
    imports, exports = imports_exports(flows)
    return [p[c] + imports[c] - exports[c] for c in range(len(p))]


def import_reliance(production: Vector, flows: Matrix) -> list[float]:
    """Net import reliance ``clip((M - X) / C, 0, 1)``; net exporter 0; 0/0 NaN."""
    p = _floats(production)
    imports, exports = imports_exports(flows)
    out = []
    for c in range(len(p)):
        net = imports[c] - exports[c]
        if math.isnan(net):
            out.append(NAN)
        elif net < 0:
            out.append(0.0)  # net exporter, USGS "E"
        else:
            out.append(_clip(_div(net, p[c] + net), 0.0, 1.0))
    return out


def direct_dependency(production: Vector, flows: Matrix) -> list[list[float]]:
    """``D[k][i] = F[k][i] / C_i``; NaN where ``C_i`` is not positive."""
    f = _matrix(flows)
    consumption = apparent_consumption(production, f)
    n = len(f)
    out = [[NAN] * n for _ in range(n)]
    for k in range(n):
        for i in range(n):
            if consumption[i] > 0:  # False for NaN
                out[k][i] = f[k][i] / consumption[i]
    return out


def refinery_feed_mix(mine_production: Vector, ore_flows: Matrix) -> list[list[float]]:
    """``O[e][k]``: share of country ``e``'s refinery feed that originates in ``k``.

    Feed from ``e`` itself is the ore it mines and does not export,
    ``max(P_e - Σ_i F[e][i], 0)``; feed from ``k != e`` is its ore import ``F[k][e]``.
    """
    p = _floats(mine_production)
    f = _matrix(ore_flows)
    n = len(p)
    out = []
    for e in range(n):
        feed = []
        for k in range(n):
            if k == e:
                ore_exports = sum(f[e][i] for i in range(n))
                kept = p[e] - ore_exports
                feed.append(NAN if math.isnan(kept) else max(kept, 0.0))
            else:
                feed.append(f[k][e])
        out.append(shares(feed))
    return out


def upstream_dependency(refined_flows: Matrix, feed_mix: Matrix) -> list[list[float]]:
    """``U[k][i] = Σ_e A[e][i] · O[e][k]``, over the suppliers ``e`` that ``i`` buys from."""
    a = import_mix(refined_flows)
    o = _matrix(feed_mix)
    n_e = len(a)
    n_i = len(a[0]) if n_e else 0
    n_k = len(o[0]) if o else 0
    out = [[NAN] * n_i for _ in range(n_k)]
    for i in range(n_i):
        column = [a[e][i] for e in range(n_e)]
        if any(math.isnan(v) for v in column):
            continue  # importer with no (or unknown) imports
        for k in range(n_k):
            total = 0.0
            for e in range(n_e):
                if column[e] != 0.0:
                    total += column[e] * o[e][k]
            out[k][i] = total
    return out


# --------------------------------------------------------------------------
# 3. Governance
# --------------------------------------------------------------------------


def geopolrisk_weight(political_stability: float) -> float:
    """``g = clip((2.5 - PV) / 5, 0, 1)``."""
    return _clip((WGI_MAX - float(political_stability)) / (2 * WGI_MAX), 0.0, 1.0)


def wgi10(mean_estimate: float) -> float:
    """``WGI10 = 2 · (2.5 - mean WGI)``: 0 best, 10 worst."""
    return 2.0 * (WGI_MAX - float(mean_estimate))


# --------------------------------------------------------------------------
# 4. GeoPolRisk
# --------------------------------------------------------------------------


def geopolrisk_import_risk(flows: Matrix, weights: Matrix, own_production: Vector) -> list[float]:
    """``IR_i = Σ_e g[e][i] f[e][i] / (p_i + Σ_e f[e][i])``.

    ``weights`` is a full ``g[e][i]`` matrix or one column ``g[e][0]`` used for
    every importer. A weight on a zero flow contributes nothing.
    """
    f = _matrix(flows)
    g = _matrix(weights)
    p = _floats(own_production)
    out = []
    for i in range(len(p)):
        numerator = 0.0
        total = 0.0
        for e in range(len(f)):
            g_ei = g[e][i] if len(g[e]) > 1 else g[e][0]
            if f[e][i] != 0.0:
                numerator += g_ei * f[e][i]
            total += f[e][i]
        out.append(_div(numerator, p[i] + total))
    return out


# --------------------------------------------------------------------------
# Leading axes
# --------------------------------------------------------------------------


def over_leading_axes(
    func: Callable[..., Any],
    args: Sequence[Any],
    core_ndims: Sequence[int],
    **kwargs: Any,
) -> Any:
    """Apply ``func`` to every slice over the leading axes, one slice at a time.

    Parameters
    ----------
    func
        A reference function of this module.
    args
        Positional array arguments of ``func``.
    core_ndims
        Number of trailing (core) axes of each argument: 0 for a scalar, 1 for a
        country vector, 2 for a trade matrix. The leading axes broadcast.
    **kwargs
        Passed to ``func`` unchanged (e.g. ``k``).

    Returns
    -------
    ndarray or tuple of ndarray
        Leading shape followed by the shape of ``func``'s result (a tuple when
        ``func`` returns a tuple).
    """
    arrays = [np.asarray(a, dtype=float) for a in args]
    leads = [a.shape[: a.ndim - nd] for a, nd in zip(arrays, core_ndims, strict=True)]
    lead = np.broadcast_shapes(*leads)
    arrays = [
        np.broadcast_to(a, lead + a.shape[a.ndim - nd :])
        for a, nd in zip(arrays, core_ndims, strict=True)
    ]
    results = []
    for idx in itertools.product(*(range(n) for n in lead)):
        results.append(func(*(a[idx].tolist() for a in arrays), **kwargs))
    if results and isinstance(results[0], tuple):
        return tuple(
            np.array([r[j] for r in results], dtype=float).reshape(lead + np.shape(results[0][j]))
            for j in range(len(results[0]))
        )
    core_shape = np.shape(results[0]) if results else ()
    return np.array(results, dtype=float).reshape(lead + core_shape)


def loss_weighted_risk(
    cells: list[int], weights: list[float], before: list[float], after: list[float], n: int
) -> list[float]:
    """Risk per cell after a shock, one contribution at a time (``indices.loss_weighted_mean``)."""
    out = []
    for cell in range(n):
        rows = [j for j in range(len(cells)) if cells[j] == cell]
        b0 = sum(before[j] for j in rows)
        a1 = sum(after[j] for j in rows)
        served = sum(weights[j] * after[j] for j in rows if after[j] != 0)
        if a1 >= b0:
            out.append(served / a1 if a1 else float("nan"))
            continue
        lost = [(j, before[j] - after[j]) for j in rows if before[j] > after[j]]
        total_lost = sum(q for _, q in lost)
        mean_lost = sum(weights[j] * q for j, q in lost) / total_lost if total_lost else 0.0
        gained = sum(
            (max(weights[j], mean_lost) - weights[j]) * (after[j] - before[j])
            for j in rows
            if after[j] > before[j]
        )
        out.append((served + gained + (b0 - a1)) / b0)
    return out
