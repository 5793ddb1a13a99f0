"""The market model: the two-region price (METHODS 10) and pass-through, by hand and property."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskengine.scenarios.market import (
    MARKET_PARAMETERS,
    MarketParameters,
    PassThrough,
    log_price_change,
    market_parameters,
    pass_through,
    two_region_price,
)


def params(**over: float) -> MarketParameters:
    base = {
        "eta": 0.4,
        "kappa": 0.0,
        "stock_months": 0.0,
        "frontload_months": 0.0,
        "leakage_all": 0.0,
        "leakage_targeted": 0.0,
        "precaution": 0.0,
    }
    base.update(over)
    return MarketParameters("x", {k: (v, v, v) for k, v in base.items()})


def test_every_mineral_row_has_every_parameter_a_range_and_a_source():
    import csv

    from riskengine.scenarios.market import _parameter_file

    with open(_parameter_file(), newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["parameter"] for r in rows if r["mineral"] == "*"} == set(MARKET_PARAMETERS)
    for r in rows:
        assert float(r["low"]) <= float(r["central"]) <= float(r["high"])
        assert r["basis"] in {"literature", "assumption"}
        assert r["source"].strip()
    cobalt = market_parameters("cobalt").values
    assert cobalt["eta"] == (0.35, 0.3, 0.4)  # literature 0.3-0.4 for cobalt
    assert cobalt["stock_months"][1] >= 1.0
    assert cobalt["stock_months"][2] <= 4.0
    assert market_parameters("unknown").values["eta"] == (0.35, 0.25, 0.5)


def test_no_shock_no_price_change():
    p = two_region_price(0.0, 100.0, 50.0, 12.0, market_parameters("cobalt"))
    assert p.outside == 0.0
    assert p.inside == 0.0
    assert p.outside_low == p.outside_high == 0.0


def test_hand_checked_gap_without_stocks():
    # 30 t/yr of 100 t/yr outside withheld for a year, eta 0.4: ln r = 0.3 / 0.4
    p = two_region_price(30.0, 100.0, 60.0, 12.0, params())
    assert math.log1p(p.outside) == pytest.approx(0.75)
    # inside: 30 t kept at home against 60 t consumption: ln r = -0.5 / 0.4
    assert math.log1p(p.inside) == pytest.approx(-1.25)
    assert p.gap_fraction == pytest.approx(0.3)


def test_stocks_front_loading_and_duration():
    # 6 months of a 60 % cut: 30 t lost; 2 months of stocks (16.7 t) + 1 of pre-buying (8.3 t)
    p = two_region_price(60.0, 100.0, 60.0, 6.0, params(stock_months=2.0, frontload_months=1.0))
    assert p.gap_fraction == pytest.approx((30.0 - 25.0) / 50.0)
    longer = two_region_price(
        60.0, 100.0, 60.0, 12.0, params(stock_months=2.0, frontload_months=1.0)
    )
    assert longer.outside > p.outside  # a longer halt is a larger loss


def test_stocks_covering_the_gap_leave_only_the_precautionary_term():
    p = two_region_price(10.0, 100.0, 60.0, 6.0, params(stock_months=4.0, precaution=0.2))
    assert p.gap_fraction == 0.0
    assert math.log1p(p.outside) == pytest.approx(0.2 * 0.1 / 0.4)


def test_leakage_higher_for_targeted_bans():
    q = params(leakage_all=0.1, leakage_targeted=0.5)
    everyone = two_region_price(40.0, 100.0, 60.0, 12.0, q)
    one_buyer = two_region_price(40.0, 100.0, 60.0, 12.0, q, targeted=True)
    assert everyone.gap_fraction == pytest.approx(0.36)
    assert one_buyer.gap_fraction == pytest.approx(0.2)


def test_inside_price_falls_and_is_nan_without_home_consumption():
    p = two_region_price(40.0, 100.0, 60.0, 12.0, market_parameters("gallium"))
    assert p.outside > 0 > p.inside
    assert p.inside_low <= p.inside <= p.inside_high
    none = two_region_price(40.0, 100.0, 0.0, 12.0, market_parameters("cobalt"))
    assert math.isnan(none.inside)
    assert "inside price not computed" in none.note


def test_band_brackets_the_central_value():
    p = two_region_price(260.0, 285.0, 0.0, 7.8, market_parameters("cobalt"))
    assert p.outside_low < p.outside < p.outside_high


def test_rising_elasticity_formula():
    assert log_price_change(0.0, 0.3, 0.5) == 0.0
    x = log_price_change(0.6, 0.3, 0.5)
    assert 0.3 * x * (1 + 0.5 * x) == pytest.approx(0.6)
    assert log_price_change(-0.6, 0.3, 0.5) == pytest.approx(-x)


def test_monopoly_full_ban_stays_finite():
    p = two_region_price(1e12, 100.0, 1e-9, 12.0, market_parameters("gallium"))
    for value in (p.outside, p.outside_high, p.inside, p.inside_low):
        assert math.isfinite(value)
    assert p.inside >= -1.0


@given(
    a=st.floats(0.0, 1e4),
    b=st.floats(0.0, 1e4),
    months=st.floats(0.5, 24.0),
    targeted=st.booleans(),
)
def test_more_withheld_never_lowers_the_outside_price(a, b, months, targeted):
    q = market_parameters("cobalt")
    lo, hi = sorted((a, b))
    p_lo = two_region_price(lo, 1000.0, 100.0, months, q, targeted=targeted)
    p_hi = two_region_price(hi, 1000.0, 100.0, months, q, targeted=targeted)
    assert p_hi.outside >= p_lo.outside - 1e-12
    assert p_hi.inside <= p_lo.inside + 1e-12


def test_the_band_is_ordered_when_the_price_falls() -> None:
    from riskengine.scenarios.market import market_parameters, two_region_price

    # a stockpile release: extra supply outside (negative demand change), no ban
    price = two_region_price(
        0.0, 100.0, 10.0, 12.0, market_parameters("rare_earths"), demand_change=-30.0
    )
    assert price.outside < 0
    assert price.outside_low <= price.outside <= price.outside_high


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 7).flatmap(
        lambda n: st.tuples(
            st.lists(st.sampled_from([0.0, 0.0, 5.0, 40.0, 100.0]), min_size=n * n, max_size=n * n),
            st.lists(st.sampled_from([0.0, 10.0, 200.0]), min_size=n, max_size=n),
            st.lists(
                st.lists(st.sampled_from([1.0, 1.0, 0.5, 0.0]), min_size=n, max_size=n),
                min_size=1,
                max_size=4,
            ),
        )
    )
)
def test_pass_through_on_row_factors_is_the_dense_pass_through(case):
    flat, production, scales = case
    n = len(production)
    flows0 = np.array(flat).reshape(n, n)
    np.fill_diagonal(flows0, 0.0)
    p0 = np.array(production)
    scale = np.array(scales)
    dense = scale[:, :, None] * flows0[None]
    passed = pass_through(dense, flows0, p0)
    g, by_country = PassThrough.prepare(flows0, p0).rows(scale)
    np.testing.assert_allclose((g * scale)[:, :, None] * flows0[None], dense, atol=1e-9)
    np.testing.assert_allclose(by_country.sum(axis=1), passed, atol=1e-9)
    assert (g >= 0).all()
    assert (g <= 1).all()


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 9), st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_the_batched_fixed_point_is_the_loop_over_members(n, k, seed):
    # a shared destination matrix is solved for the whole batch at once (an
    # active set on K^-1); the reference solves each member on its own
    from riskengine.scenarios.market import _fixed_point

    rng = np.random.default_rng(seed)
    dest = rng.random((n, n)) * (rng.random((n, n)) < 0.6)
    np.fill_diagonal(dest, 0.0)
    total = dest.sum(axis=1, keepdims=True)
    dest = np.divide(dest, total, out=np.zeros_like(dest), where=total > 0)
    share = np.where(rng.random(n) < 0.8, rng.random(n), 0.0)
    lost = rng.random((k, n)) * 100.0 * (rng.random((k, n)) < 0.7)
    start = rng.random((k, n)) * 40.0  # small exports: the bounds bind often
    tol = 1e-9
    batched = _fixed_point(start, dest, lost, share, tol)
    one_by_one = _fixed_point(start, np.broadcast_to(dest, (k, n, n)), lost, share, tol)
    np.testing.assert_allclose(batched, one_by_one, rtol=1e-9, atol=1e-9)
    assert (batched >= 0).all()
    assert (batched <= start).all()


def test_held_systems_are_solved_as_lapack_solves_each_member():
    # members holding one, two or more countries, mixed, against a loop over members
    from riskengine.scenarios.market import _solve_held

    rng = np.random.default_rng(3)
    n = 12
    k_inv = np.linalg.inv(np.eye(n) - 0.6 * rng.random((n, n)) / n)
    sizes = [1, 2, 1, 3, 2, 5, 1, 4, 2, 7, 10, 3, 6]  # classes of 3-4, 5-8 and 9-16
    member = np.repeat(np.arange(len(sizes)), sizes)
    country = np.concatenate([np.sort(rng.choice(n, s, replace=False)) for s in sizes])
    gap = rng.standard_normal(len(member))
    got = _solve_held(k_inv, member, country, gap)
    for m in range(len(sizes)):
        at = member == m
        c = country[at]
        np.testing.assert_allclose(
            got[at], np.linalg.solve(k_inv[np.ix_(c, c)], gap[at]), rtol=1e-11, atol=1e-12
        )
