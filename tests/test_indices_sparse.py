"""Sparse kernels (segment sums over flows) against the loop references and the dense kernels.

Each property draws a dense trade matrix with many exact zeros, converts it to
flows (one per non-zero cell, as :class:`riskengine.flows.Flows` stores them) and
checks that the sparse kernel gives what the plain-Python loop in
``tests/reference_impl.py`` and the dense kernel give on the matrix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from riskengine import indices as ix
from riskengine.dataset import Dataset
from riskengine.flows import Flows
from tests import reference_impl as ref

SETTINGS = settings(max_examples=60, deadline=None)

quantity = st.one_of(
    st.just(0.0), st.just(0.0), st.floats(1e-3, 1e6, allow_nan=False, allow_infinity=False)
)
weight = st.one_of(st.just(np.nan), st.floats(0.0, 1.0, allow_nan=False))


@st.composite
def trade_case(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 7))
    flows = draw(arrays(float, (n, n), elements=quantity))
    production = draw(arrays(float, (n,), elements=quantity))
    weights = draw(arrays(float, (n,), elements=weight))
    return flows, production, weights


def sparse(flows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e, i = np.nonzero(flows)
    return e, i, flows[e, i]


def close(a: object, b: object) -> None:
    np.testing.assert_allclose(
        np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-9, atol=1e-12
    )


@SETTINGS
@given(trade_case())
def test_segment_hhi_is_import_and_destination_hhi(case: tuple) -> None:
    flows, _, _ = case
    n = len(flows)
    e, i, f = sparse(flows)
    close(ix.segment_hhi(i, f, n), ref.import_hhi(flows))
    close(ix.segment_hhi(i, f, n), ix.import_hhi(flows))
    close(ix.segment_hhi(e, f, n), ref.destination_hhi(flows))
    close(ix.segment_hhi(e, f, n), ix.destination_hhi(flows))


@SETTINGS
@given(trade_case())
def test_segment_sums_conserve_the_flows(case: tuple) -> None:
    flows, _, _ = case
    n = len(flows)
    e, i, f = sparse(flows)
    imports, exports = ref.imports_exports(flows)
    close(ix.segment_sum(i, f, n), imports)
    close(ix.segment_sum(e, f, n), exports)
    assert ix.segment_sum(i, f, n).sum() == pytest.approx(flows.sum(), rel=1e-12)


@SETTINGS
@given(trade_case())
def test_sparse_import_risk_is_geopolrisk_import_risk(case: tuple) -> None:
    flows, production, weights = case
    e, i, f = sparse(flows)
    got = ix.sparse_import_risk(i, weights[e], f, production)
    close(got, ref.geopolrisk_import_risk(flows, weights[:, None], production))
    close(got, ix.geopolrisk_import_risk(flows, weights[:, None], production))


@SETTINGS
@given(trade_case())
def test_net_import_reliance_is_import_reliance(case: tuple) -> None:
    flows, production, _ = case
    n = len(flows)
    e, i, f = sparse(flows)
    got = ix.net_import_reliance(production, ix.segment_sum(i, f, n), ix.segment_sum(e, f, n))
    close(got, ref.import_reliance(production, flows))
    close(got, ix.import_reliance(production, flows))


@SETTINGS
@given(trade_case(), arrays(float, (7, 7), elements=quantity))
def test_feed_origin_weight_is_the_weighted_upstream_exposure(
    case: tuple, refined_all: np.ndarray
) -> None:
    ore, mine, weights = case
    n = len(ore)
    ore = ore * (1 - np.eye(n))  # a country's own ore is its retained output, never a flow
    refined = refined_all[:n, :n]
    retained = np.maximum(mine - ore.sum(axis=1), 0.0)
    e, i, f = sparse(ore)
    per_refiner, fed = ix.feed_origin_weight(retained, weights, i, weights[e], f)
    feed_mix = ix.refinery_feed_mix(mine, ore)
    known = fed > 0
    # where the feed is known, the feed-weighted origin is Σ_k O_ek g_k ...
    with np.errstate(invalid="ignore"):
        dense = np.where(feed_mix != 0, feed_mix * weights[None, :], 0.0).sum(axis=1)
        dense = np.where(np.isnan(feed_mix).all(axis=1), np.nan, dense)
    nan_used = ((feed_mix != 0) & np.isnan(weights)[None, :]).any(axis=1)
    dense = np.where(nan_used, np.nan, dense)
    close(per_refiner[known], dense[known])
    # ... and averaged over each importer's refined suppliers it is the dense kernel
    feed = np.where(known[:, None], feed_mix, np.eye(n))
    own = np.where(known, per_refiner, weights)
    re, ri, rf = sparse(refined)
    numerator, total = ix.segment_weighted_mean(ri, own[re], rf, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        got = numerator / total
    close(got, ix.weighted_upstream_exposure(refined, feed, weights))


def test_flows_aggregate_sums_products_and_keeps_flags() -> None:
    flows = Flows.build(
        mineral=np.array([0, 0, 0, 1]),
        stage=np.array([0, 0, 0, 0]),
        year=np.array([0, 0, 0, 0]),
        exporter=np.array([1, 1, 2, 1]),
        importer=np.array([0, 0, 0, 0]),
        product=np.array([0, 1, 0, 2]),
        content=np.array([10.0, np.nan, 5.0, 1.0]),
        value=np.array([100.0, 50.0, np.nan, 2.0]),
    )
    pairs = flows.aggregate(("mineral", "stage", "year", "exporter", "importer"), (2, 1, 1, 3, 3))
    assert len(pairs) == 3
    assert pairs.content.tolist() == [10.0, 5.0, 1.0]  # the unknown quantity adds nothing
    assert pairs.value.tolist() == [150.0, 0.0, 2.0]
    # unit prices use only flows with both a value and a quantity
    assert pairs.priced.tolist() == [10.0, 0.0, 1.0]
    assert pairs.priced_value.tolist() == [100.0, 0.0, 2.0]
    assert pairs.has_quantity.tolist() == [True, True, True]
    assert pairs.has_value.tolist() == [True, False, True]
    assert pairs.product.tolist() == [-1, -1, -1]


@SETTINGS
@given(arrays(float, (2, 4, 1, 4, 4), elements=quantity))
def test_dataset_flows_round_trip_through_dense_blocks(tensor: np.ndarray) -> None:
    countries = ["AUS", "CHN", "COD", "JPN"]
    ds = Dataset.from_arrays(
        minerals=["cobalt", "copper"],
        years=[2024],
        countries=countries,
        production=np.zeros((2, 4, 1, 4)),
        trade=tensor,
        trade_value=tensor * 1000.0,
    )
    assert ds.trade is not None
    assert len(ds.trade) == int((tensor != 0).sum())  # storage follows the flows
    np.testing.assert_array_equal(ds.trade_array(), tensor)
    np.testing.assert_array_equal(ds.trade_array("value"), tensor * 1000.0)
    frame = ds.trade_frame()
    assert frame["content_t"].sum() == pytest.approx(tensor.sum())
    assert set(frame["exporter"]) <= set(countries)
    sub = ds.sel(minerals="copper", stages=["refining"])
    np.testing.assert_array_equal(sub.trade_array()[0, 0], tensor[1, 2])


def test_with_content_rescales_named_products_only() -> None:
    tables = {
        "production": pd.DataFrame(
            {
                "mineral": ["lithium"],
                "stage": ["refining"],
                "country": ["CHL"],
                "year": [2024],
                "quantity": [100.0],
                "unit": ["t"],
                "source": ["test"],
            }
        ),
        "trade": pd.DataFrame(
            {
                "mineral": ["lithium", "lithium"],
                "stage": ["refining", "refining"],
                "exporter": ["CHL", "ARG"],
                "importer": ["CHN", "CHN"],
                "year": [2024, 2024],
                "product": ["T:li2co3", ""],
                "quantity": [1000.0, 10.0],
                "value_usd": [1e7, 1e5],
                "source": ["test", "test"],
            }
        ),
    }
    catalogue = pd.DataFrame(
        {
            "product": ["T:li2co3"],
            "mineral": ["lithium"],
            "stage": ["refining"],
            "share": [1.0],
            "content": [0.1879],
            "content_low": [0.18],
            "content_high": [0.19],
            "basis": ["chemistry"],
            "source": ["IUPAC 2021 standard atomic weights"],
        }
    )
    ds = Dataset.from_tables(tables, products=catalogue)
    assert ds.trade is not None
    assert sorted(ds.trade.content.tolist()) == pytest.approx([10.0, 187.9])
    low = ds.with_content(ds.products["content_low"].to_numpy())
    assert low.trade is not None
    assert sorted(low.trade.content.tolist()) == pytest.approx([10.0, 180.0])
    assert low.pairs.content.sum() == pytest.approx(190.0)  # pairs follow the new content


@SETTINGS
@given(
    arrays(float, (2, 1, 4, 3, 3), elements=quantity),
    st.lists(st.sampled_from([2021, 2022, 2023, 2024]), min_size=1, max_size=4, unique=True),
)
def test_selecting_years_keeps_exactly_their_flows(tensor: np.ndarray, years: list[int]) -> None:
    countries = ["AUS", "CHN", "JPN"]
    cells = np.nonzero(tensor)
    trade = pd.DataFrame(
        {
            "mineral": np.array(["cobalt", "copper"])[cells[0]],
            "stage": "mining",
            "exporter": np.array(countries)[cells[3]],
            "importer": np.array(countries)[cells[4]],
            "year": np.array([2021, 2022, 2023, 2024])[cells[2]],
            "quantity": tensor[cells],
            "value_usd": tensor[cells] * 10.0,
            "source": "test",
        }
    )
    production = pd.DataFrame(
        {"mineral": ["cobalt", "copper"] * 4, "stage": "mining", "country": "AUS",
         "year": np.repeat([2021, 2022, 2023, 2024], 2), "quantity": 1.0, "unit": "t",
         "source": "test"}
    )  # fmt: skip
    ds = Dataset.from_tables({"production": production, "trade": trade})
    sub = ds.sel(years=years)
    order = [ds.years.get_loc(y) for y in years]
    expected = ds.trade_array()[:, :1][:, :, order]
    np.testing.assert_array_equal(sub.trade_array()[:, :1], expected)
    assert list(sub.years) == years


@st.composite
def shocked_supply(draw: st.DrawFn) -> tuple[list[int], list[float], list[float], list[float]]:
    k = draw(st.integers(1, 12))
    cells = draw(st.lists(st.integers(0, 3), min_size=k, max_size=k))
    weights = draw(st.lists(st.floats(0.0, 1.0), min_size=k, max_size=k))
    before = draw(st.lists(quantity, min_size=k, max_size=k))
    after = [
        b * draw(st.sampled_from([0.0, 0.5, 1.0, 1.0, 1.7]))
        + draw(st.sampled_from([0.0, 0.0, 3.0]))
        for b in before
    ]
    return cells, weights, before, after


@SETTINGS
@given(shocked_supply())
def test_loss_weighted_mean_matches_the_loop_and_never_lowers_a_cell_short_of_supply(case):
    cells, weights, before, after = case
    num, den = ix.loss_weighted_mean(cells, weights, before, after, 4)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk = num / den
    np.testing.assert_allclose(risk, ref.loss_weighted_risk(cells, weights, before, after, 4),
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    num0, den0 = ix.loss_weighted_mean(cells, weights, before, before, 4)
    with np.errstate(divide="ignore", invalid="ignore"):
        risk0 = num0 / den0
    fell = ix.segment_sum(cells, after, 4) < ix.segment_sum(cells, before, 4)
    assert (risk[fell] >= risk0[fell] - 1e-12).all()
    assert ((risk[fell] >= 0) & (risk[fell] <= 1 + 1e-12)).all()


@SETTINGS
@given(arrays(np.float64, (2, 3, 4, 4), elements=quantity), st.floats(0.0, 2.0))
def test_flows_with_content_is_build_on_the_same_pairs(dense: np.ndarray, factor: float) -> None:
    flows = Flows.from_dense(dense[:, :, None])  # [mineral, stage, year, exporter, importer]
    content = flows.content * factor
    fast = flows.with_content(content)
    built = Flows.build(
        mineral=flows.mineral, stage=flows.stage, year=flows.year,
        exporter=flows.exporter, importer=flows.importer, content=content,
    )  # fmt: skip
    for name in Flows.__dataclass_fields__:
        got, want = getattr(fast, name), getattr(built, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
