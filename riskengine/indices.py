"""Vectorized kernels: concentration, trade dependence and governance weighting.

Every function here takes and returns :class:`numpy.ndarray`, works over any
number of leading axes, and reduces over the axis it is given. Nothing here
knows about labels, files or pandas; :mod:`riskengine.methods` wraps the kernels
with the dataset's coordinates.

Conventions
-----------
* Quantities are non-negative floats. Missing values are NaN and propagate.
* A country axis is last by default (``axis=-1``). Trade matrices have the
  exporter on axis ``-2`` and the importer on axis ``-1``:
  ``F[..., e, i]`` is the flow from exporter ``e`` to importer ``i``.
* Shares are fractions (0-1); HHI is on the 0-1 scale (multiply by 10,000 for
  the antitrust scale).
* 0/0 is NaN, never 0: a mineral nobody produces has no defined concentration.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.floating]

#: Upper bound of the WGI estimate scale used to turn scores into risk weights.
WGI_MAX = 2.5


def _asfloat(x: ArrayLike) -> FloatArray:
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float64)
    return arr


def _divide(num: ArrayLike, den: ArrayLike) -> FloatArray:
    """Elementwise ``num / den`` with 0/0 -> NaN and no warnings."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.divide(num, den)


def _sum_squares(x: FloatArray, axis: int) -> FloatArray:
    """``Σ x²`` over ``axis`` in one pass (no temporary array of squares)."""
    moved = np.moveaxis(x, axis, -1)
    return np.einsum("...i,...i->...", moved, moved)


def shares(x: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Shares of each element in the total over ``axis``.

    Parameters
    ----------
    x
        Non-negative quantities, e.g. production by country.
    axis
        Axis to normalise over.

    Returns
    -------
    ndarray
        Same shape as ``x``; sums to 1 over ``axis`` (NaN where the total is 0).

    Notes
    -----
    .. math:: S_c = P_c / \sum_{c'} P_{c'}

    Examples
    --------
    >>> shares([3.0, 1.0, 0.0]).tolist()
    [0.75, 0.25, 0.0]
    """
    arr = _asfloat(x)
    return _divide(arr, arr.sum(axis=axis, keepdims=True))


def hhi(x: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Herfindahl-Hirschman index on the 0-1 scale.

    Parameters
    ----------
    x
        Non-negative quantities (need not be normalised).
    axis
        Axis of suppliers.

    Returns
    -------
    ndarray
        ``x`` reduced over ``axis``: 1 for a monopoly, ``1/n`` for ``n`` equal
        suppliers, NaN when the total is 0.

    Notes
    -----
    .. math:: HHI = \sum_c S_c^2 = \frac{\sum_c P_c^2}{(\sum_c P_c)^2}

    Multiply by 10,000 for the antitrust scale (US 2010 merger guidelines:
    below 1,500 unconcentrated, above 2,500 highly concentrated; 2023
    guidelines: above 1,800 highly concentrated).

    References
    ----------
    U.S. Department of Justice and Federal Trade Commission, Horizontal Merger
    Guidelines (2010, 2023).

    Examples
    --------
    >>> float(hhi([40, 30, 20, 10]) * 10_000)
    3000.0
    """
    arr = _asfloat(x)
    total = arr.sum(axis=axis)
    return _divide(_sum_squares(arr, axis), total * total)


def concentration_ratio(x: ArrayLike, k: int = 1, axis: int = -1) -> FloatArray:
    r"""Concentration ratio CR-k: the combined share of the ``k`` largest suppliers.

    Parameters
    ----------
    x
        Non-negative quantities.
    k
        Number of largest suppliers (``k >= 1``); ``k`` larger than the axis
        length gives 1.
    axis
        Axis of suppliers.

    Notes
    -----
    .. math:: CR_k = \sum_{j=1}^{k} S_{(j)},\quad S_{(1)} \ge S_{(2)} \ge \dots

    The IEA reports CR-1 and CR-3 of mining and refining.

    Examples
    --------
    >>> float(concentration_ratio([40, 30, 20, 10], k=3))
    0.9
    """
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    s = np.moveaxis(shares(x, axis=axis), axis, -1)
    n = s.shape[-1]
    if k >= n:
        return s.sum(axis=-1)
    top = np.partition(s, n - k, axis=-1)[..., n - k :]
    return top.sum(axis=-1)


def effective_suppliers(x: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Effective number of suppliers, ``1 / HHI``.

    Notes
    -----
    .. math:: N_{eff} = 1 / \sum_c S_c^2

    ``n`` equal suppliers give exactly ``n``.

    Examples
    --------
    >>> float(effective_suppliers([1, 1, 1, 1]))
    4.0
    """
    return _divide(1.0, hhi(x, axis=axis))


def weighted_hhi(x: ArrayLike, weights: ArrayLike, axis: int = -1) -> FloatArray:
    r"""Governance-weighted concentration (the EU ``HHI_WGI,t`` form).

    Parameters
    ----------
    x
        Non-negative quantities by supplier.
    weights
        Per-supplier weights broadcastable against ``x`` (for the EU method,
        ``WGI10_c · t_c``). NaN weights propagate for suppliers with a non-zero
        share; a NaN weight on a zero share contributes nothing.
    axis
        Axis of suppliers.

    Notes
    -----
    .. math:: HHI_{WGI,t} = \sum_c S_c^2 \, w_c

    References
    ----------
    European Commission (2017), Methodology for establishing the EU list of
    critical raw materials: guidelines.

    Examples
    --------
    >>> float(weighted_hhi([1.0, 1.0], [2.0, 4.0]))
    1.5
    """
    s = shares(x, axis=axis)
    w = np.broadcast_to(_asfloat(weights), s.shape)
    terms = np.where(s == 0, 0.0, s * s * w)
    return terms.sum(axis=axis)


def import_mix(flows: ArrayLike) -> FloatArray:
    r"""Import mix: each importer's sourcing shares by exporter.

    Parameters
    ----------
    flows
        ``F[..., e, i]``, flow from exporter ``e`` to importer ``i``.

    Returns
    -------
    ndarray
        ``A[..., e, i] = F[..., e, i] / Σ_e F[..., e, i]``; columns sum to 1
        (NaN for an importer with no imports).

    Notes
    -----
    .. math:: A_{ei} = F_{ei} / \sum_{e'} F_{e'i}
    """
    return shares(flows, axis=-2)


def import_hhi(flows: ArrayLike) -> FloatArray:
    r"""HHI of each importer's suppliers, ``Σ_e A_{ei}²``; shape ``(..., i)``.

    Notes
    -----
    .. math:: HHI^{imp}_i = \sum_e A_{ei}^2
    """
    return hhi(flows, axis=-2)


def destination_mix(flows: ArrayLike) -> FloatArray:
    r"""Export-destination mix: each exporter's sales shares by importer.

    Returns
    -------
    ndarray
        ``D[..., e, i] = F[..., e, i] / Σ_i F[..., e, i]``; rows sum to 1.

    Notes
    -----
    .. math:: D_{ei} = F_{ei} / \sum_{i'} F_{ei'}

    This is the exposure of an exporter to its buyers: Peru's copper
    concentrate goes about three quarters to China (BACI HS92 2022: 75.1 % by
    value).
    """
    return shares(flows, axis=-1)


def destination_hhi(flows: ArrayLike) -> FloatArray:
    r"""HHI of each exporter's destinations, ``Σ_i D_{ei}²``; shape ``(..., e)``.

    Notes
    -----
    .. math:: HHI^{exp}_e = \sum_i D_{ei}^2
    """
    return hhi(flows, axis=-1)


def imports_exports(flows: ArrayLike) -> tuple[FloatArray, FloatArray]:
    r"""Total imports and exports of every country.

    Returns
    -------
    imports : ndarray
        ``M_c = Σ_e F[..., e, c]`` (shape ``(..., c)``).
    exports : ndarray
        ``X_c = Σ_i F[..., c, i]``.
    """
    arr = _asfloat(flows)
    return arr.sum(axis=-2), arr.sum(axis=-1)


def apparent_consumption(production: ArrayLike, flows: ArrayLike) -> FloatArray:
    r"""Apparent consumption, production plus imports minus exports.

    Parameters
    ----------
    production
        ``P[..., c]``.
    flows
        ``F[..., e, i]`` on the same country axis.

    Notes
    -----
    .. math:: C_c = P_c + \sum_e F_{ec} - \sum_i F_{ci}

    Stock changes are not observed, so ``C`` can be negative where a country
    exports more than it produces and imports in the same year.
    """
    imports, exports = imports_exports(flows)
    return _asfloat(production) + imports - exports


def import_reliance(production: ArrayLike, flows: ArrayLike) -> FloatArray:
    r"""Net import reliance as a fraction of apparent consumption, in [0, 1].

    Notes
    -----
    .. math:: IR_c = \mathrm{clip}\left(\frac{M_c - X_c}{P_c + M_c - X_c}, 0, 1\right)

    A net exporter (``M - X < 0``) has IR 0 (USGS prints "E"). A country with
    no production and no net trade has no consumption: IR is NaN (0/0).

    References
    ----------
    U.S. Geological Survey, Mineral Commodity Summaries, "net import reliance".

    Examples
    --------
    >>> import_reliance([0.0, 50.0], [[0.0, 0.0], [100.0, 0.0]]).tolist()
    [1.0, 0.0]
    """
    imports, exports = imports_exports(flows)
    prod = _asfloat(production)
    net = imports - exports
    consumption = prod + net
    ir = _divide(net, consumption)
    ir = np.where(net < 0, 0.0, ir)
    return np.clip(ir, 0.0, 1.0)


def direct_dependency(production: ArrayLike, flows: ArrayLike) -> FloatArray:
    r"""Dependency of each importer on each supplier, as a share of its consumption.

    Returns
    -------
    ndarray
        ``D[..., k, i] = F[..., k, i] / C_i`` with ``C`` the apparent consumption;
        NaN where ``C_i <= 0``.

    Notes
    -----
    .. math:: D_{ki} = F_{ki} / C_i
    """
    arr = _asfloat(flows)
    consumption = apparent_consumption(production, arr)
    consumption = np.where(consumption > 0, consumption, np.nan)
    return _divide(arr, consumption[..., np.newaxis, :])


def retained_output(mine_production: ArrayLike, feed_exports: ArrayLike) -> FloatArray:
    r"""Mine output a country keeps for its own refineries.

    :math:`R_e = \max(P^{mine}_e - X^{feed}_e, 0)`: ore, concentrate and
    intermediates a country ships abroad do not feed its own refineries;
    what it mines beyond its feed exports does. The one definition of the
    refinery-feed rule's own term (the composite's upstream factor, the
    scenario engine's propagation, the sourcing tables).

    Examples
    --------
    >>> retained_output([100.0, 10.0], [30.0, 20.0]).tolist()
    [70.0, 0.0]
    """
    return np.maximum(_asfloat(mine_production) - _asfloat(feed_exports), 0.0)


def refinery_feed_mix(mine_production: ArrayLike, ore_flows: ArrayLike) -> FloatArray:
    r"""Origin mix of each country's refinery feed.

    Parameters
    ----------
    mine_production
        ``P^{mine}[..., c]``, mine output by country.
    ore_flows
        ``F^{ore}[..., k, e]``, ore and concentrate flows from ``k`` to ``e``.

    Returns
    -------
    ndarray
        ``O[..., e, k]``: share of ``e``'s feed that originates in ``k``; rows
        sum to 1 (NaN for a country with no feed).

    Notes
    -----
    Feed is the ore a country keeps from its own mines plus its ore imports:

    .. math::
        \mathrm{feed}_{ek} = [k = e]\,\max(P^{mine}_e - X^{ore}_e, 0) + [k \ne e]\,F^{ore}_{ke},
        \qquad O_{ek} = \mathrm{feed}_{ek} / \sum_{k'} \mathrm{feed}_{ek'}

    where :math:`X^{ore}_e = \sum_i F^{ore}_{ei}` are its ore exports (ore it
    mines but ships abroad does not feed its own refineries).
    """
    mine = _asfloat(mine_production)
    ore = _asfloat(ore_flows)
    n = ore.shape[-1]
    retained = retained_output(mine, ore.sum(axis=-1))
    feed = np.swapaxes(ore, -1, -2).copy()
    diag = np.arange(n)
    feed[..., diag, diag] = retained
    return shares(feed, axis=-1)


def upstream_dependency(refined_flows: ArrayLike, feed_mix: ArrayLike) -> FloatArray:
    r"""Ore-origin exposure of importers of refined product.

    Refined metal imported from ``e`` embodies ore from wherever ``e``'s
    refineries source it.

    Parameters
    ----------
    refined_flows
        ``F^{ref}[..., e, i]``, refined-product flows.
    feed_mix
        ``O[..., e, k]`` from :func:`refinery_feed_mix`.

    Returns
    -------
    ndarray
        ``U[..., k, i]``: share of importer ``i``'s refined imports whose ore
        originates in ``k``. Columns sum to 1 where every supplier's feed is known.

    Notes
    -----
    .. math:: U_{ki} = \sum_e A^{ref}_{ei}\, O_{ek}

    with :math:`A^{ref}` the refined import mix (:func:`import_mix`). A
    supplier whose feed mix is unknown (NaN row) makes the result NaN for
    every importer buying from it (``A_{ei} > 0``); importers that do not buy
    from it are unaffected (a zero import share times an unknown feed
    contributes nothing). Replace such rows with the supplier itself
    (``O_{ee} = 1``) before calling to treat it as self-sourced.
    """
    mix = import_mix(refined_flows)
    origin = _asfloat(feed_mix)
    unknown = np.isnan(origin)
    # U = Oᵀ A as a batched matrix product (BLAS), not an einsum loop
    result = np.swapaxes(np.where(unknown, 0.0, origin), -1, -2) @ mix
    if unknown.any():
        # NaN where an importer actually buys (A_ei != 0, NaN included) from a
        # supplier whose share from origin k is unknown.
        buys = (mix != 0).astype(np.float64)
        hit = (np.swapaxes(unknown.astype(np.float64), -1, -2) @ buys) > 0
        result = np.where(hit, np.nan, result)
    return result


def weighted_upstream_exposure(
    refined_flows: ArrayLike, feed_mix: ArrayLike, weights: ArrayLike
) -> FloatArray:
    r"""Weight-averaged ore origin of each importer's refined imports.

    The same quantity as weighting :func:`upstream_dependency` by origin, but in
    :math:`O(C^2)` instead of :math:`O(C^3)`: the weights are first averaged over
    each refiner's feed, then over each importer's suppliers.

    Parameters
    ----------
    refined_flows
        ``F^{ref}[..., e, i]``, refined-product flows.
    feed_mix
        ``O[..., e, k]`` from :func:`refinery_feed_mix`.
    weights
        ``g[..., k]``, a weight per ore origin (e.g. :func:`geopolrisk_weight`).

    Returns
    -------
    ndarray
        ``W[..., i]``; NaN for an importer with no refined imports, or one that
        buys from a refiner whose feed mix is unknown or uses an origin whose
        weight is NaN. A zero share never propagates a NaN.

    Notes
    -----
    .. math::

        W_i = \sum_k g_k U_{ki} = \sum_e A^{ref}_{ei} \Big(\sum_k O_{ek}\, g_k\Big)

    Examples
    --------
    >>> flows = [[0.0, 10.0], [0.0, 0.0]]          # country 0 sells refined metal to 1
    >>> feed = [[0.5, 0.5], [0.0, 1.0]]            # 0's refineries: half own ore, half 1's
    >>> weighted_upstream_exposure(flows, feed, [0.2, 0.8]).tolist()
    [nan, 0.5]
    """
    mix = import_mix(refined_flows)
    origin = _asfloat(feed_mix)
    g = _asfloat(weights)
    used = origin != 0  # NaN counts as used
    with np.errstate(invalid="ignore"):
        per_refiner = np.where(used, origin * g[..., np.newaxis, :], 0.0).sum(axis=-1)
    exposure = np.where(mix == 0, 0.0, mix * per_refiner[..., np.newaxis]).sum(axis=-2)
    return np.where(np.isnan(mix).all(axis=-2), np.nan, exposure)


def geopolrisk_weight(political_stability: ArrayLike) -> FloatArray:
    r"""GeoPolRisk governance weight from the WGI political-stability estimate.

    Notes
    -----
    .. math:: g = \mathrm{clip}\left(\frac{2.5 - PV}{5}, 0, 1\right)

    Examples
    --------
    >>> round(float(geopolrisk_weight(-0.4731)), 4)
    0.5946
    """
    pv = _asfloat(political_stability)
    return np.clip((WGI_MAX - pv) / (2 * WGI_MAX), 0.0, 1.0)


def wgi10(mean_estimate: ArrayLike) -> FloatArray:
    r"""EU governance score: the mean WGI estimate rescaled to 0 (best) - 10 (worst).

    Notes
    -----
    .. math:: WGI_{10} = 2\,(2.5 - \overline{WGI})

    Examples
    --------
    >>> float(wgi10(2.5)), float(wgi10(-2.5))
    (0.0, 10.0)
    """
    return 2.0 * (WGI_MAX - _asfloat(mean_estimate))


def geopolrisk_import_risk(
    flows: ArrayLike, weights: ArrayLike, own_production: ArrayLike
) -> FloatArray:
    r"""GeoPolRisk import risk of every importer.

    Parameters
    ----------
    flows
        ``f[..., e, i]``, imports of ``i`` from ``e`` (tonnes).
    weights
        ``g[..., e, i]`` or ``g[..., e, 1]``, governance weight of each exporter
        as seen by each importer (0 for partners inside the importer's region).
    own_production
        ``p[..., i]``, the importer's own production.

    Notes
    -----
    .. math:: IR_i = \frac{\sum_e g_e f_{ei}}{p_i + \sum_e f_{ei}}

    References
    ----------
    Gemechu et al. (2016), J. Ind. Ecol. 20(1) 154-165; Koyamparambath et al.
    (2024), geopolrisk-py.

    Examples
    --------
    >>> f = [[1000.0], [1000.0]]
    >>> g = [[1.0], [0.0]]
    >>> float(geopolrisk_import_risk(f, g, [500.0])[0])
    0.4
    """
    f = _asfloat(flows)
    w = _asfloat(weights)
    w = w.reshape((1,) * (f.ndim - w.ndim) + w.shape)
    unknown = np.isnan(w)
    has_unknown = bool(unknown.any())
    # Σ_e g_e f_ei as one fused multiply-and-reduce over e; the weights stay a
    # broadcast view, so no temporary as large as the flows is made.
    known = np.where(unknown, 0.0, w) if has_unknown else w
    numerator = np.einsum("...ei,...ei->...i", np.broadcast_to(known, f.shape), f)
    if has_unknown:
        # NaN where a non-zero flow (NaN included) meets an unknown weight; only
        # the exporters with an unknown weight somewhere are visited.
        other = tuple(a for a in range(w.ndim) if a != w.ndim - 2)
        rows = np.flatnonzero(unknown.any(axis=other)) if w.shape[-2] > 1 else range(f.shape[-2])
        unknown_b = np.broadcast_to(unknown, f.shape)
        hit = np.zeros(numerator.shape, dtype=bool)
        for e in rows:
            hit |= (f[..., e, :] != 0) & unknown_b[..., e, :]
        numerator = np.where(hit, np.nan, numerator)
    return _divide(numerator, _asfloat(own_production) + f.sum(axis=-2))


# --------------------------------------------------------------------------- sparse
# Kernels on flows stored as coordinates (:class:`riskengine.flows.Flows`): each
# flow has an integer ``key`` naming its output cell (e.g. the importer's
# (mineral, stage, year, importer) cell, from ``Flows.key``), and every reduction
# is a segment sum over keys with :func:`numpy.bincount`. Flows must be unique per
# (output cell, partner) -- summed over products -- for the sums of squares.


def segment_sum(key: ArrayLike, weights: ArrayLike, size: int) -> FloatArray:
    r"""Sum of ``weights`` per output cell.

    Parameters
    ----------
    key
        Output cell of each flow, integers in ``[0, size)``.
    weights
        Value of each flow.
    size
        Number of output cells.

    Notes
    -----
    .. math:: y_j = \sum_{n:\ key_n = j} w_n

    Examples
    --------
    >>> segment_sum([0, 2, 2], [1.0, 2.0, 3.0], 3).tolist()
    [1.0, 0.0, 5.0]
    """
    k = np.asarray(key, dtype=np.intp)
    return np.bincount(k, weights=_asfloat(weights), minlength=size).astype(np.float64, copy=False)


def segment_hhi(key: ArrayLike, flows: ArrayLike, size: int) -> FloatArray:
    r"""HHI of the partners of each output cell, from sparse flows.

    With ``key`` the importer's cell this is :func:`import_hhi`; with the
    exporter's cell, :func:`destination_hhi`.

    Notes
    -----
    .. math:: HHI_j = \frac{\sum_{n:\ key_n = j} f_n^2}{\left(\sum_{n:\ key_n = j} f_n\right)^2}

    NaN where a cell has no flow (0/0).

    Examples
    --------
    >>> segment_hhi([0, 0, 1], [1.0, 1.0, 5.0], 3).tolist()
    [0.5, 1.0, nan]
    """
    k = np.asarray(key, dtype=np.intp)
    f = _asfloat(flows)
    total = segment_sum(k, f, size)
    squares = segment_sum(k, f * f, size)
    return _divide(squares, total * total)


def segment_weighted_mean(
    key: ArrayLike, weights: ArrayLike, flows: ArrayLike, size: int
) -> tuple[FloatArray, FloatArray]:
    r"""Flow-weighted sum of partner weights per cell, with NaN where a used weight is NaN.

    Returns
    -------
    numerator : ndarray
        :math:`\sum_n w_n f_n` per cell; NaN where a flow with :math:`f_n \ne 0`
        has a NaN weight (a zero flow never propagates a NaN).
    total : ndarray
        :math:`\sum_n f_n` per cell.
    """
    k = np.asarray(key, dtype=np.intp)
    f = _asfloat(flows)
    w = _asfloat(weights)
    unknown = np.isnan(w)
    weighted = np.where(unknown, 0.0, w)
    weighted *= f
    numerator = segment_sum(k, weighted, size)
    if unknown.any():
        # the cells a used unknown weight reaches
        numerator[k[unknown & (f != 0)]] = np.nan
    return numerator, segment_sum(k, f, size)


def sparse_import_risk(
    key: ArrayLike, weights: ArrayLike, flows: ArrayLike, own_production: ArrayLike
) -> FloatArray:
    r"""GeoPolRisk import risk of every importer cell, from sparse flows.

    Parameters
    ----------
    key
        Importer cell of each flow (flat index into ``own_production``).
    weights
        Governance weight :math:`g_e` of each flow's exporter, as seen by the
        importer (0 for partners inside the importer's region).
    flows
        Quantity of each flow.
    own_production
        :math:`p_i` per importer cell (flat).

    Notes
    -----
    .. math:: IR_i = \frac{\sum_e g_e f_{ei}}{p_i + \sum_e f_{ei}}

    The same quantity as :func:`geopolrisk_import_risk` on the dense tensor.

    Examples
    --------
    >>> float(sparse_import_risk([0, 0], [1.0, 0.0], [1000.0, 1000.0], [500.0])[0])
    0.4
    """
    p = _asfloat(own_production)
    numerator, total = segment_weighted_mean(key, weights, flows, p.size)
    return _divide(numerator, p + total)


def net_import_reliance(
    production: ArrayLike, imports: ArrayLike, exports: ArrayLike
) -> FloatArray:
    r"""Net import reliance from totals, in [0, 1].

    Notes
    -----
    .. math:: IR_c = \mathrm{clip}\left(\frac{M_c - X_c}{P_c + M_c - X_c}, 0, 1\right)

    A net exporter has IR 0; no production and no net trade gives NaN (0/0).
    :func:`import_reliance` is this on the totals of a dense tensor.

    Examples
    --------
    >>> net_import_reliance([0.0, 50.0], [100.0, 0.0], [0.0, 100.0]).tolist()
    [1.0, 0.0]
    """
    net = _asfloat(imports) - _asfloat(exports)
    ir = _divide(net, _asfloat(production) + net)
    ir = np.where(net < 0, 0.0, ir)
    return np.clip(ir, 0.0, 1.0)


def loss_weighted_mean(
    key: ArrayLike,
    weights: ArrayLike,
    before: ArrayLike,
    after: ArrayLike,
    size: int,
    atol: float = 0.0,
    rtol: float = 0.0,
) -> tuple[FloatArray, FloatArray]:
    r"""Supply-weighted risk per cell after a shock, counting lost supply as lost.

    Each cell (an importer, a refiner) is supplied by contributions ``n`` (a
    partner's flow, its own output) of weight :math:`w_n` (the risk the cell
    runs on that supply) and tonnes :math:`b_n` before and :math:`a_n` after a
    shock. Where the cell's supply fell (:math:`B_1 < B_0`), the tonnes it no
    longer receives count at the highest risk, 1 (certainly not delivered),
    and supply it gained counts at no less than the mean weight of what it
    lost (it replaces lost supply: tonnes deflected or bought in the shock).
    Otherwise the weighted mean of what arrives is returned unchanged.

    Parameters
    ----------
    key
        Cell of each contribution, integers in ``[0, size)``.
    weights
        :math:`w_n` in [0, 1]; NaN where unknown.
    before, after
        Tonnes of each contribution before and after the shock (a contribution
        present on one side only has 0 on the other).
    size
        Number of cells.
    atol, rtol
        A cell's supply has fallen when :math:`A < B - \max(atol, rtol\,B)`:
        a loss within rounding is no loss (it would otherwise switch the
        cell to the loss rule, whose replacement term is not continuous).

    Returns
    -------
    numerator, denominator : ndarray
        The cell's risk is ``numerator / denominator``. NaN numerator where a
        contribution with an unknown weight is used or lost.

    Notes
    -----
    With :math:`B = \sum_n b_n`, :math:`A = \sum_n a_n`,
    :math:`\ell_n = (b_n - a_n)^+`, :math:`\gamma_n = (a_n - b_n)^+` and
    :math:`\bar w_L = \sum_n w_n \ell_n / \sum_n \ell_n` (0 when nothing is
    lost):

    .. math::

        \text{risk} = \begin{cases}
            \dfrac{\sum_n w_n a_n + \sum_n (\max(w_n, \bar w_L) - w_n)\,\gamma_n
                + (B - A)}{B} & A < B \\[1ex]
            \dfrac{\sum_n w_n a_n}{A} & \text{otherwise}
        \end{cases}

    Where supply fell the risk never decreases: the numerator grows by at
    least :math:`(L - G)(1 - \bar w_L) \ge 0` if imports fell
    (:math:`L \ge G`), and by at least :math:`B - A > 0` otherwise, over the
    same denominator :math:`B`. With ``before == after`` it is
    :func:`segment_weighted_mean` divided by the total.

    Examples
    --------
    A cell loses half of its 100 t from a partner of weight 0.2: the lost
    50 t count at 1.

    >>> num, den = loss_weighted_mean([0], [0.2], [100.0], [50.0], 1)
    >>> float(num[0] / den[0])
    0.6
    """
    k = np.asarray(key, dtype=np.intp)
    w = _asfloat(weights)
    b = _asfloat(before)
    a = _asfloat(after)
    numerator, supplied = segment_weighted_mean(k, w, a, size)
    supply0 = segment_sum(k, b, size)
    hit = supplied < supply0 - np.maximum(atol, rtol * supply0)
    if not hit.any():
        return numerator, supplied
    change = b - a
    lost_w, lost_t = segment_weighted_mean(k, w, np.maximum(change, 0.0), size)
    gained = np.maximum(np.negative(change, out=change), 0.0, out=change)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_lost = np.where(lost_t > 0, lost_w / lost_t, 0.0)
    # (max(w, mean lost) - w) x gained where something was gained, in place
    raise_to = mean_lost[k]
    np.maximum(w, raise_to, out=raise_to)
    raise_to -= w
    raise_to[~(gained > 0)] = 0.0
    raise_to *= gained
    uplift = segment_sum(k, raise_to, size)
    numerator = np.where(hit, numerator + uplift + (supply0 - supplied), numerator)
    return numerator, np.where(hit, supply0, supplied)


def feed_origin_weight(
    retained: ArrayLike,
    own_weight: ArrayLike,
    key: ArrayLike,
    origin_weight: ArrayLike,
    feed_flows: ArrayLike,
) -> tuple[FloatArray, FloatArray]:
    r"""Weight averaged over each refiner's feed, from sparse feed flows.

    Parameters
    ----------
    retained
        :math:`R_e = \max(P^{mine}_e - X^{feed}_e, 0)` per refiner cell (flat):
        its own mine output that it does not export.
    own_weight
        :math:`g_e` per refiner cell (flat).
    key
        Refiner (importer) cell of each feed flow.
    origin_weight
        :math:`g_k` of each feed flow's origin (exporter).
    feed_flows
        Quantity of each feed flow (ore, concentrate, intermediate).

    Returns
    -------
    weighted : ndarray
        :math:`\bar g_e = \sum_k O_{ek} g_k`, NaN where a used origin has no weight.
    feed : ndarray
        :math:`R_e + \sum_k F_{ke}`; 0 for a refiner with no known feed.

    Notes
    -----
    .. math::
        \bar g_e = \frac{R_e\, g_e + \sum_{k} F^{feed}_{ke}\, g_k}{R_e + \sum_k F^{feed}_{ke}}
        = \sum_k O_{ek}\, g_k

    with :math:`O` the feed mix of :func:`refinery_feed_mix`.
    """
    r = _asfloat(retained)
    g_own = _asfloat(own_weight)
    numerator, imported = segment_weighted_mean(key, origin_weight, feed_flows, r.size)
    own = np.where(r != 0, r * g_own, 0.0)
    feed = r + imported
    return _divide(numerator + own, feed), feed
