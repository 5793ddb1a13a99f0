"""Tests of the vectorized kernels in :mod:`riskengine.indices`.

Three layers:

1. published reference values (docs/methods.md);
2. exact extremes (monopoly, equal suppliers, empty markets, pure importers ...);
3. agreement with the loop implementations in ``tests/reference_impl.py`` on
   random seeded tensors with leading (mineral, stage, year) axes, exact zeros,
   all-zero slices and missing values.
"""

from __future__ import annotations

import doctest
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

from riskengine import indices as ix
from tests import reference_impl as ref

# Shape of the random tensors: (mineral, stage, year, country).
LEAD = (3, 2, 4)
N = 7


@pytest.fixture(autouse=True)
def _no_numpy_warnings() -> Iterator[None]:
    """0/0 must give NaN silently: any RuntimeWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


# ---------------------------------------------------------------------------
# 1. Published reference values
# ---------------------------------------------------------------------------

NINE_FIRMS = [25, 20, 15, 10, 8, 7, 6, 5, 4]


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        ([40, 30, 20, 10], 3000.0),
        (NINE_FIRMS, 1540.0),
        ([45, 15, 10, 8, 7, 6, 5, 4], 2540.0),  # 25 and 20 merge
        ([25, 20, 15, 10, 8, 7, 6, 9], 1580.0),  # 5 and 4 merge
    ],
)
def test_hhi_published_values(percent: list[int], expected: float) -> None:
    assert float(ix.hhi(percent)) * 10_000 == pytest.approx(expected, abs=1e-9)
    # the same from fractions and from unnormalised tonnages
    assert float(ix.hhi(np.array(percent) / 100)) * 10_000 == pytest.approx(expected, abs=1e-9)
    assert float(ix.hhi(np.array(percent) * 1234.5)) * 10_000 == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("a", "b"), [(0, 1), (7, 8), (2, 5)])
def test_merger_delta_hhi(a: int, b: int) -> None:
    s = np.array(NINE_FIRMS, dtype=float)
    merged = np.delete(s, [a, b])
    merged = np.append(merged, s[a] + s[b])
    delta = (ix.hhi(merged) - ix.hhi(s)) * 10_000
    assert float(delta) == pytest.approx(2 * s[a] * s[b], abs=1e-9)


def test_merger_delta_published() -> None:
    before = float(ix.hhi(NINE_FIRMS)) * 10_000
    assert float(ix.hhi([45, 15, 10, 8, 7, 6, 5, 4])) * 10_000 - before == pytest.approx(1000.0)
    assert float(ix.hhi([25, 20, 15, 10, 8, 7, 6, 9])) * 10_000 - before == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("percent", "cr1", "cr3"),
    [
        ([40, 30, 20, 10], 0.40, 0.90),
        ([10, 20, 40, 30], 0.40, 0.90),  # order does not matter
        (NINE_FIRMS, 0.25, 0.60),
        ([4, 5, 6, 7, 8, 10, 15, 20, 25], 0.25, 0.60),
        ([45, 15, 10, 8, 7, 6, 5, 4], 0.45, 0.70),
        ([25, 20, 15, 10, 8, 7, 6, 9], 0.25, 0.60),
    ],
)
def test_concentration_ratio_published(percent: list[int], cr1: float, cr3: float) -> None:
    assert float(ix.concentration_ratio(percent, k=1)) == pytest.approx(cr1, abs=1e-12)
    assert float(ix.concentration_ratio(percent, k=3)) == pytest.approx(cr3, abs=1e-12)


def test_effective_suppliers_published() -> None:
    assert float(ix.effective_suppliers([40, 30, 20, 10])) == pytest.approx(1 / 0.3)
    assert float(ix.effective_suppliers(NINE_FIRMS)) == pytest.approx(1 / 0.154)


def test_shares_published() -> None:
    np.testing.assert_allclose(ix.shares([40, 30, 20, 10]), [0.4, 0.3, 0.2, 0.1], rtol=1e-15)


@pytest.mark.parametrize(
    ("country", "pv", "g"),
    [
        ("China 2020", -0.4731, 0.5946),
        ("DR Congo 2020", -1.7855, 0.8571),
        ("Australia 2020", 0.8617, 0.3277),
        ("Chile 2020", 0.0440, 0.4912),
    ],
)
def test_geopolrisk_weight_published(country: str, pv: float, g: float) -> None:
    assert round(float(ix.geopolrisk_weight(pv)), 4) == g, country


def test_geopolrisk_weight_vectorized_published() -> None:
    pv = np.array([-0.4731, -1.7855, 0.8617, 0.0440])
    np.testing.assert_array_equal(
        np.round(ix.geopolrisk_weight(pv), 4), [0.5946, 0.8571, 0.3277, 0.4912]
    )


@pytest.mark.parametrize(
    ("pv", "g"),
    [
        (2.5, 0.0),
        (-2.5, 1.0),
        (0.0, 0.5),
        (1.25, 0.25),
        (2.51, 0.0),
        (3.7, 0.0),  # beyond the nominal scale: clipped, never negative
        (-2.51, 1.0),
        (-4.0, 1.0),  # never above 1
    ],
)
def test_geopolrisk_weight_extremes(pv: float, g: float) -> None:
    assert float(ix.geopolrisk_weight(pv)) == pytest.approx(g, abs=1e-15)


def test_geopolrisk_weight_missing_stays_missing() -> None:
    assert np.isnan(ix.geopolrisk_weight(np.nan))


@pytest.mark.parametrize(
    ("mean", "score"),
    [(2.5, 0.0), (-2.5, 10.0), (0.0, 5.0), (1.0, 3.0), (-1.25, 7.5)],
)
def test_wgi10_extremes(mean: float, score: float) -> None:
    assert float(ix.wgi10(mean)) == pytest.approx(score, abs=1e-15)


def test_wgi10_missing_and_array() -> None:
    np.testing.assert_array_equal(ix.wgi10([2.5, np.nan, -2.5]), [0.0, np.nan, 10.0])


@pytest.mark.parametrize(
    ("flows", "weights"),
    [
        # importer in a region: 1000 t from outside (g = 1), 1000 t from a member (g = 0)
        ([1000.0, 1000.0], [1.0, 0.0]),
        # three partners, weighted imports 600 + 200 + 200 = 1000
        ([1000.0, 500.0, 500.0], [0.6, 0.4, 0.4]),
    ],
)
def test_geopolrisk_test_vector(flows: list[float], weights: list[float]) -> None:
    """docs/methods.md: numerator 1000, imports 2000, own production 500, HHI 0.3, price 50."""
    f = np.array(flows)[:, None]  # one importer
    g = np.array(weights)[:, None]
    risk = ix.geopolrisk_import_risk(f, g, [500.0])
    assert risk.shape == (1,)
    assert float(risk[0]) == pytest.approx(0.4, abs=1e-15)

    mine_hhi = float(ix.hhi([40, 30, 20, 10]))  # exactly the HHI 0.3 of the test vector
    assert mine_hhi == pytest.approx(0.3, abs=1e-15)
    score = mine_hhi * float(risk[0])
    assert score == pytest.approx(0.12, abs=1e-15)

    # price: kUSD over tonnes = USD/kg; 100,000 kUSD for 2000 t -> 50 USD/kg
    value_kusd = np.array(flows) * 50.0
    price = value_kusd.sum() / np.array(flows).sum()
    assert price == pytest.approx(50.0)
    copper_reference = 0.409412948  # geopolrisk-py normalisation
    cf = score * price / copper_reference
    assert round(cf, 3) == 14.655


# ---------------------------------------------------------------------------
# 2. Exact extremes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 3, 6])
def test_monopoly(position: int) -> None:
    x = np.zeros(7)
    x[position] = 123.0
    assert float(ix.hhi(x)) == 1.0
    assert float(ix.concentration_ratio(x, k=1)) == 1.0
    assert float(ix.effective_suppliers(x)) == 1.0
    assert float(ix.weighted_hhi(x, np.full(7, 4.2))) == pytest.approx(4.2, abs=1e-15)
    expected = np.zeros(7)
    expected[position] = 1.0
    np.testing.assert_array_equal(ix.shares(x), expected)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 10, 50, 193])
def test_equal_suppliers(n: int) -> None:
    x = np.full(n, 17.0)
    assert float(ix.hhi(x)) == pytest.approx(1 / n, rel=1e-14)
    assert float(ix.effective_suppliers(x)) == pytest.approx(n, rel=1e-14)
    assert float(ix.concentration_ratio(x, k=1)) == pytest.approx(1 / n, rel=1e-14)
    k = max(1, n // 2)
    assert float(ix.concentration_ratio(x, k=k)) == pytest.approx(k / n, rel=1e-14)


def test_all_zero_is_nan_never_zero() -> None:
    x = np.zeros(5)
    assert np.isnan(ix.hhi(x))
    assert np.isnan(ix.effective_suppliers(x))
    assert np.isnan(ix.concentration_ratio(x, k=1))
    assert np.isnan(ix.concentration_ratio(x, k=10))
    assert np.isnan(ix.weighted_hhi(x, np.ones(5)))
    assert np.isnan(ix.shares(x)).all()


def test_all_zero_slice_only_affects_its_slice() -> None:
    x = np.array([[3.0, 1.0, 0.0], [0.0, 0.0, 0.0], [2.0, 2.0, 0.0]])
    np.testing.assert_array_equal(ix.hhi(x), [0.625, np.nan, 0.5])
    np.testing.assert_array_equal(ix.concentration_ratio(x, k=1), [0.75, np.nan, 0.5])
    np.testing.assert_array_equal(ix.effective_suppliers(x), [1.6, np.nan, 2.0])
    # reducing over the other axis: country 2 supplies nothing in any row
    np.testing.assert_allclose(ix.hhi(x, axis=0), [0.52, 5 / 9, np.nan], rtol=1e-15)


def test_nan_propagates() -> None:
    x = np.array([[3.0, np.nan, 1.0], [3.0, 0.0, 1.0]])
    np.testing.assert_array_equal(ix.hhi(x), [np.nan, 0.625])
    np.testing.assert_array_equal(ix.concentration_ratio(x, k=2), [np.nan, 1.0])
    assert np.isnan(ix.shares(x)[0]).all()


@pytest.mark.parametrize("k", [4, 5, 100])
def test_concentration_ratio_k_at_least_n(k: int) -> None:
    assert float(ix.concentration_ratio([40, 30, 20, 10], k=k)) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("k", [0, -1, -5])
def test_concentration_ratio_k_below_one(k: int) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        ix.concentration_ratio([1.0, 2.0], k=k)


def test_concentration_ratio_ties() -> None:
    assert float(ix.concentration_ratio([2, 2, 2, 1, 1], k=2)) == pytest.approx(0.5)
    assert float(ix.concentration_ratio([1, 3, 3, 1], k=1)) == pytest.approx(0.375)


def test_weighted_hhi_values() -> None:
    # shares 0.75 / 0.25, weights 4 / 8: 0.5625 * 4 + 0.0625 * 8 = 2.75
    assert float(ix.weighted_hhi([3.0, 1.0], [4.0, 8.0])) == pytest.approx(2.75, abs=1e-15)
    # unit weights give the plain HHI
    assert float(ix.weighted_hhi([40, 30, 20, 10], np.ones(4))) == pytest.approx(0.3)


def test_weighted_hhi_missing_weight() -> None:
    # a missing score for a supplier that supplies nothing does not matter ...
    assert float(ix.weighted_hhi([3.0, 1.0, 0.0], [4.0, 8.0, np.nan])) == pytest.approx(2.75)
    # ... but for a supplier with a share it does
    assert np.isnan(ix.weighted_hhi([3.0, 1.0, 2.0], [4.0, 8.0, np.nan]))


def test_weighted_hhi_broadcast_weights() -> None:
    x = np.array([[3.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(ix.weighted_hhi(x, [4.0, 8.0]), [2.75, 3.0], rtol=1e-15)
    # suppliers on axis 0: weights as a column
    np.testing.assert_allclose(ix.weighted_hhi(x.T, [[4.0], [8.0]], axis=0), [2.75, 3.0])


# Trade matrix F[e, i] of four countries A, B, C, D:
#   A exports 30 to B and 10 to C, B exports 20 to C, D trades nothing.
F4 = np.array(
    [
        [0.0, 30.0, 10.0, 0.0],
        [0.0, 0.0, 20.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
)


def test_imports_exports_and_consumption() -> None:
    imports, exports = ix.imports_exports(F4)
    np.testing.assert_array_equal(imports, [0.0, 30.0, 30.0, 0.0])
    np.testing.assert_array_equal(exports, [40.0, 20.0, 0.0, 0.0])
    np.testing.assert_array_equal(
        ix.apparent_consumption([100.0, 0.0, 70.0, 5.0], F4), [60.0, 10.0, 100.0, 5.0]
    )


def test_import_and_destination_mix() -> None:
    a = ix.import_mix(F4)
    np.testing.assert_array_equal(a[:, 1], [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(a[:, 2], [1 / 3, 2 / 3, 0.0, 0.0], rtol=1e-15)
    assert np.isnan(a[:, 0]).all()  # A imports nothing
    np.testing.assert_allclose(ix.import_hhi(F4), [np.nan, 1.0, 5 / 9, np.nan], rtol=1e-15)

    d = ix.destination_mix(F4)
    np.testing.assert_allclose(d[0], [0.0, 0.75, 0.25, 0.0], rtol=1e-15)
    np.testing.assert_array_equal(d[1], [0.0, 0.0, 1.0, 0.0])
    assert np.isnan(d[2]).all()
    np.testing.assert_allclose(ix.destination_hhi(F4), [0.625, 1.0, np.nan, np.nan], rtol=1e-15)


def test_destination_mix_peru_copper_by_value() -> None:
    """BACI HS92 2022, Peru copper ore (2603): China 75.1 %, Japan 8.2 % by value."""
    peru_row = np.array([[75.1, 8.2, 16.7]])  # China, Japan, rest of the world
    np.testing.assert_allclose(ix.destination_mix(peru_row)[0], [0.751, 0.082, 0.167])


def test_import_reliance_cases() -> None:
    # countries: pure importer, net exporter, self-sufficient, nothing at all,
    #            partial importer, re-export hub (imports == exports, no production)
    f = np.zeros((6, 6))
    f[1, 0] = 100.0  # net exporter 1 -> pure importer 0
    f[5, 4] = 40.0  # hub 5 -> partial importer 4
    f[1, 5] = 40.0  # net exporter 1 -> hub 5
    f[4, 1] = 10.0  # partial importer also exports a bit to 1
    production = np.array([0.0, 500.0, 70.0, 0.0, 70.0, 0.0])
    ir = ix.import_reliance(production, f)
    # partial importer: M 40, X 10, net 30, C = 70 + 30 = 100 -> 0.3
    np.testing.assert_allclose(ir, [1.0, 0.0, 0.0, np.nan, 0.3, np.nan], rtol=1e-15)
    assert ir[0] == 1.0
    assert ir[1] == 0.0
    assert ir[2] == 0.0


def test_import_reliance_net_exporter_without_production_data() -> None:
    # a net exporter is 0 ("E") whatever its production; unknown production of a
    # net importer leaves IR unknown
    f = np.array([[0.0, 10.0], [0.0, 0.0]])
    np.testing.assert_array_equal(ix.import_reliance([np.nan, np.nan], f), [0.0, np.nan])


def test_import_reliance_docstring_case() -> None:
    np.testing.assert_array_equal(
        ix.import_reliance([0.0, 50.0], [[0.0, 0.0], [100.0, 0.0]]), [1.0, 0.0]
    )


def test_direct_dependency_values() -> None:
    production = np.array([100.0, 0.0, 70.0, 5.0])
    d = ix.direct_dependency(production, F4)
    # A: C = 60, imports nothing -> zeros; B: C = 10, buys 30 from A -> 3.0
    # C: C = 100, buys 10 from A and 20 from B; D: C = 5, no imports
    expected = np.array(
        [
            [0.0, 3.0, 0.1, 0.0],
            [0.0, 0.0, 0.2, 0.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    np.testing.assert_allclose(d, expected, rtol=1e-15)


def test_direct_dependency_column_sums_to_imports_over_consumption() -> None:
    production = np.array([100.0, 0.0, 70.0, 5.0])
    imports, _ = ix.imports_exports(F4)
    c = ix.apparent_consumption(production, F4)
    d = ix.direct_dependency(production, F4)
    np.testing.assert_allclose(d.sum(axis=0), imports / c, rtol=1e-15)
    # C exports nothing: its total dependency is its import reliance, 30 / (70 + 30)
    ir = ix.import_reliance(production, F4)
    assert d[:, 2].sum() == pytest.approx(ir[2], rel=1e-15)
    assert ir[2] == pytest.approx(0.3, rel=1e-15)


def test_direct_dependency_nonpositive_consumption_is_nan() -> None:
    # B imports 10 and exports 50 with no production: C = -40 -> no defined share
    f = np.array([[0.0, 10.0], [50.0, 0.0]])
    d = ix.direct_dependency([0.0, 0.0], f)
    assert np.isnan(d[:, 1]).all()
    # A: C = 0 + 50 - 10 = 40; buys 50 from B
    np.testing.assert_allclose(d[:, 0], [0.0, 1.25])
    # zero consumption (nothing at all) is NaN too, not 0
    assert np.isnan(ix.direct_dependency([0.0, 0.0], np.zeros((2, 2)))).all()


def test_refinery_feed_mix_domestic_only() -> None:
    mine = np.array([100.0, 0.0, 50.0])
    ore = np.zeros((3, 3))
    o = ix.refinery_feed_mix(mine, ore)
    np.testing.assert_array_equal(o[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(o[2], [0.0, 0.0, 1.0])
    assert np.isnan(o[1]).all()  # no mine, no imports: no feed


def test_refinery_feed_mix_values() -> None:
    # 0 mines 100 and ships 30 to 1; 1 mines 20 and imports 30 from 0 and 50 from 2;
    # 2 mines 40 and ships 50 (more than it mines: nothing left for itself)
    mine = np.array([100.0, 20.0, 40.0])
    ore = np.array([[0.0, 30.0, 0.0], [0.0, 0.0, 0.0], [0.0, 50.0, 0.0]])
    o = ix.refinery_feed_mix(mine, ore)
    np.testing.assert_allclose(o[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(o[1], [0.3, 0.2, 0.5])
    assert np.isnan(o[2]).all()


def test_upstream_equals_import_mix_when_refiners_self_fed() -> None:
    refined = np.array([[0.0, 30.0, 10.0], [5.0, 0.0, 20.0], [0.0, 0.0, 0.0]])
    mine = np.array([100.0, 60.0, 1.0])
    feed = ix.refinery_feed_mix(mine, np.zeros((3, 3)))
    np.testing.assert_array_equal(feed, np.eye(3))
    np.testing.assert_allclose(ix.upstream_dependency(refined, feed), ix.import_mix(refined))


def test_upstream_dependency_values() -> None:
    # countries: CHN refines, COD mines, USA imports. CHN feed: 40 % domestic, 60 % COD.
    # USA buys 75 % of its refined metal from CHN and 25 % from COD.
    refined = np.array([[0.0, 0.0, 75.0], [0.0, 0.0, 25.0], [0.0, 0.0, 0.0]])
    feed = np.array([[0.4, 0.6, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    u = ix.upstream_dependency(refined, feed)
    np.testing.assert_allclose(u[:, 2], [0.3, 0.7, 0.0], rtol=1e-15)
    assert np.isnan(u[:, :2]).all()  # CHN and COD import no refined metal


def test_upstream_dependency_unknown_feed_only_hits_buyers() -> None:
    # importer 0 buys from 1 (feed unknown), importer 1 buys from 0 only (self-fed),
    # importer 2 buys from 0 and 1
    refined = np.array([[0.0, 5.0, 1.0], [3.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    feed = np.array([[1.0, 0.0, 0.0], [np.nan, np.nan, np.nan], [0.0, 0.0, 1.0]])
    u = ix.upstream_dependency(refined, feed)
    assert np.isnan(u[:, 0]).all()
    np.testing.assert_array_equal(u[:, 1], [1.0, 0.0, 0.0])
    assert np.isnan(u[:, 2]).all()
    # the documented remedy: treat the unknown supplier as self-sourced
    fixed = feed.copy()
    fixed[1] = [0.0, 1.0, 0.0]
    np.testing.assert_allclose(ix.upstream_dependency(refined, fixed)[:, 2], [0.5, 0.5, 0.0])


def test_upstream_dependency_partially_unknown_feed() -> None:
    # supplier 1 knows its domestic share (0.5) but not the rest
    refined = np.array([[0.0, 0.0], [4.0, 0.0]])
    feed = np.array([[1.0, 0.0], [np.nan, 0.5]])
    u = ix.upstream_dependency(refined, feed)
    assert np.isnan(u[0, 0])
    assert u[1, 0] == 0.5


def test_geopolrisk_import_risk_extremes() -> None:
    f = np.array([[0.0, 0.0, 100.0, 0.0], [0.0, 0.0, 100.0, 0.0]])
    g = np.array([[0.3], [np.nan]])  # unknown weight of exporter 1 ...
    p = np.array([0.0, 10.0, 0.0, np.nan])
    risk = ix.geopolrisk_import_risk(f, g, p)
    # importer 0: nothing at all -> NaN; importer 1: production only -> 0;
    # importer 2 buys from exporter 1 (unknown weight) -> NaN;
    # importer 3: unknown production -> NaN
    np.testing.assert_array_equal(risk, [np.nan, 0.0, np.nan, np.nan])
    # ... matters only where it exports
    f2 = np.array([[50.0], [0.0]])
    assert float(ix.geopolrisk_import_risk(f2, g, [50.0])[0]) == pytest.approx(0.15)
    # all imports from the worst governed country with no production: risk = g
    assert float(ix.geopolrisk_import_risk([[7.0]], [[0.8571]], [0.0])[0]) == pytest.approx(0.8571)


def test_geopolrisk_import_risk_full_weight_matrix() -> None:
    # the same exporter weighs 0 for an importer in its region and 0.5 for another
    f = np.array([[100.0, 100.0], [0.0, 0.0]])
    g = np.array([[0.0, 0.5], [0.9, 0.9]])
    np.testing.assert_allclose(ix.geopolrisk_import_risk(f, g, [0.0, 100.0]), [0.0, 0.25])


def test_docstring_examples() -> None:
    result = doctest.testmod(ix, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted >= 9


# ---------------------------------------------------------------------------
# 3. Vectorized kernels against the loop reference
# ---------------------------------------------------------------------------


def _random_inputs(seed: int, with_nan: bool) -> dict[str, np.ndarray]:
    """Production ``(3, 2, 4, 7)`` and trade ``(3, 2, 4, 7, 7)`` with zeros and empty slices."""
    rng = np.random.default_rng(seed)
    prod = rng.gamma(0.7, 100.0, size=(*LEAD, N))
    prod[rng.random(prod.shape) < 0.3] = 0.0
    prod[0, 1, 2, :] = 0.0  # nobody produces
    prod[2, 0, :, 3] = 0.0  # one country never produces
    prod[1, 1, 0, :] = 0.0
    prod[1, 1, 0, 5] = 42.0  # a monopoly

    trade = rng.gamma(0.5, 20.0, size=(*LEAD, N, N))
    trade[rng.random(trade.shape) < 0.4] = 0.0
    diag = np.arange(N)
    trade[..., diag, diag] = 0.0  # no self-trade
    trade[1, 0, 3] = 0.0  # an empty year
    trade[0, 0, :, :, 4] = 0.0  # a country that imports nothing
    trade[2, 1, :, 5, :] = 0.0  # a country that exports nothing
    trade[0, 1, 1, :, 2] = 0.0
    trade[0, 1, 1, 3, 2] = 9.0  # single supplier

    weights = rng.uniform(0.0, 10.0, size=(*LEAD, N))
    weights[prod == 0] = np.where(rng.random(int((prod == 0).sum())) < 0.5, np.nan, 1.0)
    g = rng.uniform(0.0, 1.0, size=(*LEAD, N, N))
    g[trade == 0] = np.where(rng.random(int((trade == 0).sum())) < 0.3, np.nan, 0.5)

    if with_nan:
        prod[0, 0, 1, 2] = np.nan
        prod[2, 1, 3, :] = np.nan
        trade[1, 1, 2, 0, 6] = np.nan
        trade[2, 0, 0, 3, :] = np.nan
        weights[1, 0, 0, int(np.argmax(prod[1, 0, 0]))] = np.nan
        g[0, 0, 0, 1, 0] = np.nan
        trade[0, 0, 0, 1, 0] = 5.0
    return {"prod": prod, "trade": trade, "weights": weights, "g": g}


@pytest.fixture(params=[(1, False), (2, False), (3, True)], ids=["seed1", "seed2", "seed3-nan"])
def data(request: pytest.FixtureRequest) -> dict[str, np.ndarray]:
    seed, with_nan = request.param
    return _random_inputs(seed, with_nan)


def _check(actual: np.ndarray, expected: np.ndarray) -> None:
    assert np.shape(actual) == np.shape(expected)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14)


def test_random_inputs_have_the_edge_cases(data: dict[str, np.ndarray]) -> None:
    prod, trade = np.nan_to_num(data["prod"]), np.nan_to_num(data["trade"])
    assert (prod == 0).any()
    assert (prod.sum(axis=-1) == 0).any()
    assert (trade.sum(axis=-2) == 0).any()
    assert (trade.sum(axis=-1) == 0).any()
    assert ((prod.max(axis=-1) == prod.sum(axis=-1)) & (prod.sum(axis=-1) > 0)).any()  # monopoly


def test_loop_shares_hhi_effective(data: dict[str, np.ndarray]) -> None:
    prod = data["prod"]
    _check(ix.shares(prod), ref.over_leading_axes(ref.shares, [prod], [1]))
    _check(ix.hhi(prod), ref.over_leading_axes(ref.hhi, [prod], [1]))
    _check(
        ix.effective_suppliers(prod), ref.over_leading_axes(ref.effective_suppliers, [prod], [1])
    )


@pytest.mark.parametrize("axis", [0, 1, 2, -2])
def test_loop_other_axes(data: dict[str, np.ndarray], axis: int) -> None:
    prod = data["prod"]
    moved = np.moveaxis(prod, axis, -1)
    _check(ix.hhi(prod, axis=axis), ref.over_leading_axes(ref.hhi, [moved], [1]))
    expected_shares = np.moveaxis(ref.over_leading_axes(ref.shares, [moved], [1]), -1, axis)
    _check(ix.shares(prod, axis=axis), expected_shares)
    _check(
        ix.concentration_ratio(prod, k=2, axis=axis),
        ref.over_leading_axes(ref.concentration_ratio, [moved], [1], k=2),
    )
    w = data["weights"]  # same shape as prod, suppliers on `axis`
    _check(
        ix.weighted_hhi(prod, w, axis=axis),
        ref.over_leading_axes(ref.weighted_hhi, [moved, np.moveaxis(w, axis, -1)], [1, 1]),
    )


@pytest.mark.parametrize("k", [1, 2, 3, 6, 7, 8, 20])
def test_loop_concentration_ratio(data: dict[str, np.ndarray], k: int) -> None:
    prod = data["prod"]
    _check(
        ix.concentration_ratio(prod, k=k),
        ref.over_leading_axes(ref.concentration_ratio, [prod], [1], k=k),
    )


def test_loop_weighted_hhi(data: dict[str, np.ndarray]) -> None:
    prod, w = data["prod"], data["weights"]
    _check(ix.weighted_hhi(prod, w), ref.over_leading_axes(ref.weighted_hhi, [prod, w], [1, 1]))
    # one weight vector per country, broadcast over mineral, stage and year
    w1 = np.nan_to_num(w[0, 0, 0], nan=2.0)
    _check(ix.weighted_hhi(prod, w1), ref.over_leading_axes(ref.weighted_hhi, [prod, w1], [1, 1]))


def test_loop_trade_mixes(data: dict[str, np.ndarray]) -> None:
    trade = data["trade"]
    _check(ix.import_mix(trade), ref.over_leading_axes(ref.import_mix, [trade], [2]))
    _check(ix.import_hhi(trade), ref.over_leading_axes(ref.import_hhi, [trade], [2]))
    _check(ix.destination_mix(trade), ref.over_leading_axes(ref.destination_mix, [trade], [2]))
    _check(ix.destination_hhi(trade), ref.over_leading_axes(ref.destination_hhi, [trade], [2]))


def test_loop_imports_exports_consumption(data: dict[str, np.ndarray]) -> None:
    prod, trade = data["prod"], data["trade"]
    imports, exports = ix.imports_exports(trade)
    ref_imports, ref_exports = ref.over_leading_axes(ref.imports_exports, [trade], [2])
    _check(imports, ref_imports)
    _check(exports, ref_exports)
    _check(
        ix.apparent_consumption(prod, trade),
        ref.over_leading_axes(ref.apparent_consumption, [prod, trade], [1, 2]),
    )


def test_loop_import_reliance_direct_dependency(data: dict[str, np.ndarray]) -> None:
    prod, trade = data["prod"], data["trade"]
    _check(
        ix.import_reliance(prod, trade),
        ref.over_leading_axes(ref.import_reliance, [prod, trade], [1, 2]),
    )
    _check(
        ix.direct_dependency(prod, trade),
        ref.over_leading_axes(ref.direct_dependency, [prod, trade], [1, 2]),
    )


def test_loop_refinery_feed_and_upstream(data: dict[str, np.ndarray]) -> None:
    prod, trade = data["prod"], data["trade"]
    ore = trade[:, 0]  # mining-stage flows, shape (3, 4, 7, 7)
    refined = trade[:, 1]
    mine = prod[:, 0]
    feed = ix.refinery_feed_mix(mine, ore)
    ref_feed = ref.over_leading_axes(ref.refinery_feed_mix, [mine, ore], [1, 2])
    _check(feed, ref_feed)
    _check(
        ix.upstream_dependency(refined, feed),
        ref.over_leading_axes(ref.upstream_dependency, [refined, ref_feed], [2, 2]),
    )
    # with every unknown feed row replaced by self-sourcing, nothing is NaN except
    # importers without imports, and columns sum to 1
    self_fed = np.where(np.isnan(feed), np.eye(N), feed)
    u = ix.upstream_dependency(refined, self_fed)
    _check(u, ref.over_leading_axes(ref.upstream_dependency, [refined, self_fed], [2, 2]))
    has_imports = np.nansum(refined, axis=-2) > 0
    finite = ~np.isnan(refined).any(axis=-2)
    np.testing.assert_allclose(u.sum(axis=-2)[has_imports & finite], 1.0, rtol=1e-12)


def test_loop_governance(data: dict[str, np.ndarray]) -> None:
    pv = (data["weights"] - 5.0) * 0.7  # spans -3.5 ... 3.5, with NaN
    _check(ix.geopolrisk_weight(pv), ref.over_leading_axes(ref.geopolrisk_weight, [pv], [0]))
    _check(ix.wgi10(pv), ref.over_leading_axes(ref.wgi10, [pv], [0]))


def test_loop_geopolrisk_import_risk(data: dict[str, np.ndarray]) -> None:
    prod, trade, g = data["prod"], data["trade"], data["g"]
    _check(
        ix.geopolrisk_import_risk(trade, g, prod),
        ref.over_leading_axes(ref.geopolrisk_import_risk, [trade, g, prod], [2, 2, 1]),
    )
    # one weight per exporter, the same for every importer
    g_col = g[..., :, :1]
    _check(
        ix.geopolrisk_import_risk(trade, g_col, prod),
        ref.over_leading_axes(ref.geopolrisk_import_risk, [trade, g_col, prod], [2, 2, 1]),
    )


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_weighted_upstream_exposure_equals_weighting_the_full_upstream_matrix(seed):
    rng = np.random.default_rng(seed)
    n = 7
    flows = rng.random((3, 2, n, n)) * (rng.random((3, 2, n, n)) < 0.5)
    flows[0, 0, :, 3] = 0.0  # an importer with no refined imports
    feed = ix.refinery_feed_mix(rng.random((3, 2, n)), rng.random((3, 2, n, n)))
    feed[1, 1, 2] = np.nan  # a refiner whose feed is unknown
    g = rng.random((3, 2, n))
    g[2, 0, 4] = np.nan  # an origin without a governance score
    full = ix.upstream_dependency(flows, feed)  # U[..., k, i]
    with np.errstate(invalid="ignore"):
        expected = np.where(full == 0, 0.0, full * g[..., :, None]).sum(axis=-2)
    # NaN where the full product is NaN anywhere in the importer's column
    expected = np.where(np.isnan(full).any(axis=-2), np.nan, expected)
    got = ix.weighted_upstream_exposure(flows, feed, g)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    assert np.isnan(got[0, 0, 3])
