"""Property-based tests of :mod:`riskengine.indices` (hypothesis).

Every property below follows from the definitions in docs/methods.md:

* ``HHI = Σ S²`` with ``Σ S = 1``, ``S >= 0`` gives ``1/n <= HHI <= 1`` and
  ``CR1² <= HHI <= CR1`` (``S_max² <= Σ S² <= S_max Σ S``);
* ``CR_k`` sums the ``k`` largest shares, so it is non-decreasing and concave
  in ``k``, at least ``k/n`` and 1 from ``k = n`` on;
* merging suppliers ``a`` and ``b`` adds ``(S_a + S_b)² - S_a² - S_b² = 2 S_a S_b``;
* relabelling countries (the same permutation on both axes of a trade matrix)
  permutes the results and changes nothing else.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskengine import indices as ix

SETTINGS = settings(max_examples=40, deadline=None)
TOL = 1e-9

# Quantities: exact zeros are common; otherwise tonnages from 1 kg to 1 Mt.
quantity = st.one_of(st.just(0.0), st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False))
positive = st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False)
scale = st.floats(1e-3, 1e3, allow_nan=False, allow_infinity=False)


@pytest.fixture(autouse=True)
def _no_numpy_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


@st.composite
def supply(draw: st.DrawFn, min_size: int = 1, max_size: int = 12) -> np.ndarray:
    """A non-negative production vector with a positive total."""
    n = draw(st.integers(min_size, max_size))
    x = draw(arrays(np.float64, n, elements=quantity))
    assume(x.sum() > 0)
    return x


@st.composite
def market(draw: st.DrawFn, max_n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Production ``P[c]`` and a trade matrix ``F[e, i]`` on the same countries."""
    n = draw(st.integers(1, max_n))
    production = draw(arrays(np.float64, n, elements=quantity))
    flows = draw(arrays(np.float64, (n, n), elements=quantity))
    return production, flows


def _close(a: np.ndarray, b: np.ndarray, rtol: float = TOL) -> None:
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)


# ---------------------------------------------------------------------------
# Concentration
# ---------------------------------------------------------------------------


@SETTINGS
@given(supply())
def test_hhi_bounds(x: np.ndarray) -> None:
    n = x.size
    h = float(ix.hhi(x))
    assert 1 / n - TOL <= h <= 1 + TOL
    assert 1 - TOL <= float(ix.effective_suppliers(x)) <= n * (1 + TOL)
    # bounded by the number of active suppliers too
    assert h >= 1 / np.count_nonzero(x) - TOL


@SETTINGS
@given(supply())
def test_shares_sum_to_one(x: np.ndarray) -> None:
    s = ix.shares(x)
    assert float(s.sum()) == pytest.approx(1.0, abs=TOL)
    assert ((s >= 0) & (s <= 1)).all()
    assert float(ix.hhi(x)) == pytest.approx(float((s * s).sum()), rel=TOL)


@SETTINGS
@given(supply(), scale)
def test_scale_invariance(x: np.ndarray, c: float) -> None:
    assert float(ix.hhi(x * c)) == pytest.approx(float(ix.hhi(x)), rel=TOL)
    _close(ix.shares(x * c), ix.shares(x))
    for k in (1, 3):
        assert float(ix.concentration_ratio(x * c, k=k)) == pytest.approx(
            float(ix.concentration_ratio(x, k=k)), rel=TOL
        )


@SETTINGS
@given(st.data())
def test_relabelling_invariance(data: st.DataObject) -> None:
    x = data.draw(supply())
    perm = np.array(data.draw(st.permutations(range(x.size))))
    assert float(ix.hhi(x[perm])) == pytest.approx(float(ix.hhi(x)), rel=TOL)
    assert float(ix.concentration_ratio(x[perm], k=2)) == pytest.approx(
        float(ix.concentration_ratio(x, k=2)), rel=TOL
    )
    _close(ix.shares(x[perm]), ix.shares(x)[perm])
    w = np.linspace(1.0, 10.0, x.size)
    assert float(ix.weighted_hhi(x[perm], w[perm])) == pytest.approx(
        float(ix.weighted_hhi(x, w)), rel=TOL
    )


@SETTINGS
@given(supply())
def test_concentration_ratio_monotone_concave(x: np.ndarray) -> None:
    n = x.size
    cr = np.array([float(ix.concentration_ratio(x, k=k)) for k in range(1, n + 3)])
    steps = np.diff(np.concatenate([[0.0], cr]))  # the sorted shares
    assert (steps >= -TOL).all()  # non-decreasing in k
    assert (np.diff(steps) <= TOL).all()  # concave: each step is the next-largest share
    assert cr[n - 1 :] == pytest.approx(1.0, abs=TOL)
    ks = np.arange(1, n + 1)
    assert (cr[:n] >= ks / n - TOL).all()  # top k hold at least their fair share


@SETTINGS
@given(supply())
def test_hhi_between_cr1_squared_and_cr1(x: np.ndarray) -> None:
    h = float(ix.hhi(x))
    cr1 = float(ix.concentration_ratio(x, k=1))
    assert cr1 * cr1 - TOL <= h <= cr1 + TOL
    assert cr1 <= np.sqrt(h) + TOL


@SETTINGS
@given(supply(min_size=2), st.data())
def test_merger_identity(x: np.ndarray, data: st.DataObject) -> None:
    a, b = data.draw(st.lists(st.integers(0, x.size - 1), min_size=2, max_size=2, unique=True))
    s = ix.shares(x)
    merged = np.append(np.delete(x, [a, b]), x[a] + x[b])
    delta = float(ix.hhi(merged) - ix.hhi(x))
    assert delta == pytest.approx(2 * s[a] * s[b], abs=TOL)
    assert delta >= -TOL


@SETTINGS
@given(supply(), st.floats(0.0, 10.0))
def test_weighted_hhi_constant_weight(x: np.ndarray, w: float) -> None:
    weights = np.full(x.size, w)
    assert float(ix.weighted_hhi(x, weights)) == pytest.approx(w * float(ix.hhi(x)), abs=TOL)


@SETTINGS
@given(st.data())
def test_weighted_hhi_bounded_by_weights(data: st.DataObject) -> None:
    x = data.draw(supply())
    w = data.draw(arrays(np.float64, x.size, elements=st.floats(0.0, 10.0)))
    active = x > 0
    h = float(ix.hhi(x))
    wh = float(ix.weighted_hhi(x, w))
    assert w[active].min() * h - TOL <= wh <= w[active].max() * h + TOL


@SETTINGS
@given(arrays(np.float64, (3, 5), elements=quantity))
def test_axis_agrees_with_transpose(x: np.ndarray) -> None:
    _close(ix.hhi(x, axis=0), ix.hhi(x.T, axis=-1))
    _close(ix.concentration_ratio(x, k=2, axis=0), ix.concentration_ratio(x.T, k=2))
    _close(ix.shares(x, axis=0), ix.shares(x.T).T)


# ---------------------------------------------------------------------------
# Trade
# ---------------------------------------------------------------------------


@SETTINGS
@given(market(), st.data())
def test_trade_relabelling(m: tuple[np.ndarray, np.ndarray], data: st.DataObject) -> None:
    production, flows = m
    n = production.size
    p = np.array(data.draw(st.permutations(range(n))))
    f_perm = flows[np.ix_(p, p)]  # the same relabelling of exporters and importers
    _close(ix.import_hhi(f_perm), ix.import_hhi(flows)[p])
    _close(ix.destination_hhi(f_perm), ix.destination_hhi(flows)[p])
    _close(ix.import_mix(f_perm), ix.import_mix(flows)[np.ix_(p, p)])
    # C = P + M - X can cancel almost to zero; relabelling changes the order of the
    # sums, so the tolerance grows with the condition number (P + M + X) / |C|.
    imports, exports = ix.imports_exports(flows)
    with np.errstate(divide="ignore", invalid="ignore"):
        cond = (production + imports + exports) / np.abs(production + imports - exports)
    rtol = float(np.nanmax(np.where(np.isfinite(cond), cond, 1.0), initial=1.0)) * 1e-12 + TOL
    _close(
        ix.import_reliance(production[p], f_perm),
        ix.import_reliance(production, flows)[p],
        rtol=rtol,
    )
    _close(
        ix.direct_dependency(production[p], f_perm),
        ix.direct_dependency(production, flows)[np.ix_(p, p)],
        rtol=rtol,
    )
    feed = ix.refinery_feed_mix(production, flows)
    _close(ix.refinery_feed_mix(production[p], f_perm), feed[np.ix_(p, p)])
    _close(
        ix.upstream_dependency(f_perm, feed[np.ix_(p, p)]),
        ix.upstream_dependency(flows, feed)[np.ix_(p, p)],
    )


def exports_more(flows: np.ndarray) -> np.ndarray:
    imports, exports = ix.imports_exports(flows)
    return exports > imports


@SETTINGS
@given(market())
def test_import_reliance_range(m: tuple[np.ndarray, np.ndarray]) -> None:
    production, flows = m
    ir = ix.import_reliance(production, flows)
    known = ~np.isnan(ir)
    assert ((ir[known] >= 0) & (ir[known] <= 1)).all()
    # a net exporter is 0 exactly, a net importer without production 1 exactly
    assert (ir[exports_more(flows)] == 0.0).all()
    imports, exports = ix.imports_exports(flows)
    assert (ir[(production == 0) & (imports > exports)] == 1.0).all()
    # NaN only where there is no consumption at all (no production, no net trade)
    imports, exports = ix.imports_exports(flows)
    no_consumption = (production == 0) & (imports == exports)
    np.testing.assert_array_equal(~known, no_consumption)


@SETTINGS
@given(market(), positive)
def test_import_reliance_falls_with_production(
    m: tuple[np.ndarray, np.ndarray], extra: float
) -> None:
    production, flows = m
    before = ix.import_reliance(production, flows)
    after = ix.import_reliance(production + extra, flows)
    known = ~np.isnan(before)
    assert (after[known] <= before[known] + TOL).all()
    assert not np.isnan(after).any()  # positive production always defines IR


@SETTINGS
@given(market())
def test_mixes_sum_to_one(m: tuple[np.ndarray, np.ndarray]) -> None:
    _, flows = m
    imports, exports = ix.imports_exports(flows)
    a = ix.import_mix(flows)
    np.testing.assert_allclose(a.sum(axis=0)[imports > 0], 1.0, atol=TOL)
    assert np.isnan(a[:, imports == 0]).all()
    d = ix.destination_mix(flows)
    np.testing.assert_allclose(d.sum(axis=1)[exports > 0], 1.0, atol=TOL)
    # destinations of F are the imports of its transpose
    _close(ix.destination_hhi(flows), ix.import_hhi(flows.T))
    _close(d, ix.import_mix(flows.T).T)


@SETTINGS
@given(market())
def test_direct_dependency_column_sums(m: tuple[np.ndarray, np.ndarray]) -> None:
    production, flows = m
    imports, exports = ix.imports_exports(flows)
    c = production + imports - exports
    d = ix.direct_dependency(production, flows)
    positive_c = c > 0
    np.testing.assert_allclose(
        d.sum(axis=0)[positive_c], imports[positive_c] / c[positive_c], rtol=TOL
    )
    assert np.isnan(d[:, ~positive_c]).all()
    # with no exports of its own, a country's total dependency is its import reliance
    ir = ix.import_reliance(production, flows)
    no_exports = positive_c & (exports == 0)
    np.testing.assert_allclose(d.sum(axis=0)[no_exports], ir[no_exports], rtol=TOL)


@SETTINGS
@given(market(), market())
def test_feed_and_upstream_sum_to_one(
    ore_market: tuple[np.ndarray, np.ndarray], refined_market: tuple[np.ndarray, np.ndarray]
) -> None:
    mine, ore = ore_market
    refined = refined_market[1]
    n = min(mine.size, refined.shape[0])
    mine, ore, refined = mine[:n], ore[:n, :n], refined[:n, :n]
    feed = ix.refinery_feed_mix(mine, ore)
    has_feed = ~np.isnan(feed).all(axis=1)
    np.testing.assert_allclose(feed.sum(axis=1)[has_feed], 1.0, atol=TOL)
    assert ((feed[has_feed] >= 0) & (feed[has_feed] <= 1)).all()
    # countries without feed are taken as self-sourced: every column then sums to 1
    self_fed = np.where(np.isnan(feed), np.eye(n), feed)
    u = ix.upstream_dependency(refined, self_fed)
    buys = refined.sum(axis=0) > 0
    np.testing.assert_allclose(u.sum(axis=0)[buys], 1.0, atol=TOL)
    assert np.isnan(u[:, ~buys]).all()
    # identity feed: upstream exposure is the import mix itself
    _close(ix.upstream_dependency(refined, np.eye(n)), ix.import_mix(refined))


@SETTINGS
@given(market())
def test_feed_mix_composition(m: tuple[np.ndarray, np.ndarray]) -> None:
    mine, ore = m
    n = mine.size
    feed = ix.refinery_feed_mix(mine, ore)
    kept = np.maximum(mine - ore.sum(axis=1), 0.0)  # mined and not exported
    foreign = ore * (1 - np.eye(n))  # ore imports, F[k, e] with k != e
    total = kept + foreign.sum(axis=0)
    has_feed = total > 0
    np.testing.assert_array_equal(np.isnan(feed).all(axis=1), ~has_feed)
    for e in np.flatnonzero(has_feed):
        assert feed[e, e] == pytest.approx(kept[e] / total[e], abs=TOL)
        others = np.arange(n) != e
        np.testing.assert_allclose(feed[e, others], foreign[others, e] / total[e], atol=TOL)


@SETTINGS
@given(market(), st.data())
def test_unknown_feed_only_hits_buyers(
    m: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    _, refined = m
    n = refined.shape[0]
    supplier = data.draw(st.integers(0, n - 1))
    feed = np.eye(n)
    feed[supplier] = np.nan
    u = ix.upstream_dependency(refined, feed)
    buyers = refined[supplier] > 0
    assert np.isnan(u[:, buyers]).all()
    # importers that do not buy from it get what they would get with any feed for it
    known = np.eye(n)
    u_known = ix.upstream_dependency(refined, known)
    _close(u[:, ~buyers], u_known[:, ~buyers])


# ---------------------------------------------------------------------------
# Governance and GeoPolRisk
# ---------------------------------------------------------------------------


@SETTINGS
@given(st.floats(-5.0, 5.0), st.floats(-5.0, 5.0))
def test_geopolrisk_weight_range_and_order(a: float, b: float) -> None:
    ga, gb = float(ix.geopolrisk_weight(a)), float(ix.geopolrisk_weight(b))
    assert 0.0 <= ga <= 1.0
    if a <= b:
        assert ga >= gb  # better governance, lower weight
    # wgi10 and g are the same affine map of the score inside the nominal range
    if -2.5 <= a <= 2.5:
        assert float(ix.wgi10(a)) == pytest.approx(10 * ga, abs=TOL)


@SETTINGS
@given(market(), st.data())
def test_geopolrisk_import_risk_range(
    m: tuple[np.ndarray, np.ndarray], data: st.DataObject
) -> None:
    production, flows = m
    n = production.size
    g = data.draw(arrays(np.float64, (n, 1), elements=st.floats(0.0, 1.0)))
    risk = ix.geopolrisk_import_risk(flows, g, production)
    total = production + flows.sum(axis=0)
    np.testing.assert_array_equal(np.isnan(risk), total == 0)
    known = total > 0
    assert ((risk[known] >= 0) & (risk[known] <= g.max() + TOL)).all()
    # own production dilutes the risk
    more = ix.geopolrisk_import_risk(flows, g, production + 1.0)
    assert (more[known] <= risk[known] + TOL).all()
    # all weights 1 and no production: risk 1 for every importer that imports
    ones = ix.geopolrisk_import_risk(flows, np.ones((n, 1)), np.zeros(n))
    np.testing.assert_allclose(ones[flows.sum(axis=0) > 0], 1.0, atol=TOL)
