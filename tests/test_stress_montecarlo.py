"""Monte Carlo disruptions: convergence to exact expectations, reproducibility, batching,
quantiles from the bounded-memory histograms, and the disruption model file."""

from __future__ import annotations

import itertools
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import riskengine
from riskengine.dataset import Dataset, RiskEngineWarning
from riskengine.dims import STAGES, WGI_INDICATORS
from riskengine.errors import DataError, RiskEngineError, UnknownLabelError
from riskengine.scenarios import parse_scenario
from riskengine.stress import montecarlo as mc
from riskengine.stress.disruptions import (
    DisruptionModel,
    ProbabilityMapping,
    load_disruption_model,
    parse_disruption_model,
)

COUNTRIES = ("AUS", "CHN", "COD", "DEU", "JPN", "USA")
PV = {"AUS": 0.9, "CHN": -0.5, "COD": -1.8, "DEU": 0.6, "JPN": 1.0, "USA": 0.0}
# refined cobalt: the USA buys from three suppliers; Germany buys from China and
# re-exports a little to Japan, so a disruption of Germany keeps 10 t at home
FLOWS = {
    ("AUS", "USA"): 100.0,
    ("CHN", "USA"): 50.0,
    ("COD", "USA"): 30.0,
    ("CHN", "DEU"): 40.0,
    ("DEU", "JPN"): 10.0,
}
PRODUCTION = {"AUS": 150.0, "CHN": 200.0, "COD": 40.0, "JPN": 5.0, "USA": 20.0}
PROB = {"AUS": 0.2, "CHN": 0.5, "COD": 0.15, "DEU": 0.3}


def build(pv: dict[str, float] = PV) -> Dataset:
    c_idx = pd.Index(COUNTRIES, name="country")
    prod = np.zeros((1, len(STAGES), 1, len(c_idx)))
    tq = np.zeros((1, len(STAGES), 1, len(c_idx), len(c_idx)))
    s = STAGES.index("refining")
    for c, q in PRODUCTION.items():
        prod[0, s, 0, c_idx.get_loc(c)] = q
    for (e, i), q in FLOWS.items():
        tq[0, s, 0, c_idx.get_loc(e), c_idx.get_loc(i)] = q
    gov = np.full((len(WGI_INDICATORS), 1, len(c_idx)), np.nan)
    gov[WGI_INDICATORS.index("PV"), 0, :] = [pv.get(c, np.nan) for c in COUNTRIES]
    return Dataset.from_arrays(
        minerals=["cobalt"],
        years=[2024],
        countries=c_idx,
        production=prod,
        trade=tq,
        trade_value=tq * 1000.0,
        governance=gov,
        governance_years=[2022],
        name="tiny",
    )


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return build()


def exact_distribution(severity: float) -> dict[str, dict[float, float]]:
    """Exact shortfall distribution of every importer, enumerating the 2^4 outcomes."""
    exporters = list(PROB)
    exports = {c: sum(q for (e, _), q in FLOWS.items() if e == c) for c in COUNTRIES}
    out: dict[str, dict[float, float]] = {c: {} for c in ("USA", "DEU", "JPN")}
    for hits in itertools.product((0, 1), repeat=len(exporters)):
        p = math.prod(PROB[e] if h else 1 - PROB[e] for e, h in zip(exporters, hits, strict=True))
        hit = dict(zip(exporters, hits, strict=True))
        for imp in out:
            loss = sum(severity * q * hit[e] for (e, i), q in FLOWS.items() if i == imp)
            own = severity * exports[imp] * hit.get(imp, 0)
            x = round(max(loss - own, 0.0), 9)
            out[imp][x] = out[imp].get(x, 0.0) + p
    return out


def quantile(dist: dict[float, float], level: float) -> float:
    cum = 0.0
    for x in sorted(dist):
        cum += dist[x]
        if cum >= level - 1e-12:
            return x
    return max(dist)


def expected_shortfall(dist: dict[float, float], level: float) -> float:
    var = quantile(dist, level)
    above = sum(x * p for x, p in dist.items() if x > var)
    at = sum(p for x, p in dist.items() if x <= var) - level
    return (above + var * at) / (1 - level)


def run(ds: Dataset, **kw: object) -> mc.SimulationResult:
    """The first-order simulation (its exact distributions are known); market=True opts in."""
    kw.setdefault("probability", PROB)
    kw.setdefault("market", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        return riskengine.simulate(ds, **kw)  # type: ignore[arg-type]


def row(result: mc.SimulationResult, country: str) -> pd.Series:
    s = result.summary
    return s[(s["country"] == country) & (s["stage"] == "refining")].iloc[0]


# ------------------------------------------------------------ convergence
def test_converges_to_the_exact_expectation_of_a_small_case(tiny):
    dists = exact_distribution(0.5)
    result = run(tiny, n=40_000, seed=11, severity=0.5)
    for imp, dist in dists.items():
        r = row(result, imp)
        mean = sum(x * p for x, p in dist.items())
        assert abs(r["mean_shortfall_t"] - mean) < 4 * r["mean_shortfall_se_t"], imp
        p_any = sum(p for x, p in dist.items() if x > 0)
        assert abs(r["p_shortfall"] - p_any) < 4 * r["p_shortfall_se"] + 1e-12, imp
    # hand check of the USA: 0.5 * (0.2 * 100 + 0.5 * 50 + 0.15 * 30) = 24.75 t
    assert sum(x * p for x, p in dists["USA"].items()) == pytest.approx(24.75)
    # Germany keeps its 10 t of exports when disrupted itself: 20 t short when only
    # China is hit, 15 t when both are: 0.5 * 0.7 * 20 + 0.5 * 0.3 * 15 = 9.25
    assert sum(x * p for x, p in dists["DEU"].items()) == pytest.approx(9.25)


def test_value_at_risk_of_a_discrete_distribution_is_exact(tiny):
    dists = exact_distribution(0.5)
    result = run(tiny, n=40_000, seed=5, severity=0.5)
    for imp, dist in dists.items():
        cdf = np.cumsum([dist[x] for x in sorted(dist)])
        r = row(result, imp)
        for level in mc.LEVELS:
            # far from a jump of the CDF, the empirical quantile is the true one
            if np.min(np.abs(cdf - level)) < 0.01:
                continue
            assert r[f"var{100 * level:g}_t"] == quantile(dist, level), (imp, level)
            es = expected_shortfall(dist, level)
            se = r[f"es{100 * level:g}_se_t"]
            assert abs(r[f"es{100 * level:g}_t"] - es) < 4 * se + 1e-9, (imp, level)
    # the USA at 95 %: outcomes 0, 15, 25, 40, 50, 65, 75, 90 t; P(<= 65) = 0.9 < 0.95
    assert row(result, "USA")["var95_t"] == 75.0


def test_beta_severity_mean(tiny):
    result = run(tiny, n=20_000, seed=3)  # default Beta(2, 3): mean 0.4
    r = row(result, "USA")
    assert abs(r["mean_shortfall_t"] - 0.4 * 49.5) < 4 * r["mean_shortfall_se_t"]
    cells = result.cells.set_index("exporter")
    assert cells.loc["CHN", "mean_severity"] == pytest.approx(0.4)
    assert cells.loc["CHN", "source"] == "override"


def test_thresholds_are_fractions_of_consumption(tiny):
    dists = exact_distribution(0.5)
    result = run(tiny, n=20_000, seed=2, severity=0.5, thresholds=(0.1, 0.5))
    r = row(result, "USA")
    consumption = PRODUCTION["USA"] + 180.0  # 200 t
    assert r["consumption_t"] == pytest.approx(consumption)
    for t in (0.1, 0.5):
        exact = sum(p for x, p in dists["USA"].items() if x > t * consumption)
        name = f"p_above_{100 * t:g}pct"
        assert abs(r[name] - exact) <= 4 * r[f"{name}_se"]


# ------------------------------------------------------- reproducibility
def test_same_seed_same_result_other_seed_other_result(tiny):
    a = run(tiny, n=3000, seed=42)
    b = run(tiny, n=3000, seed=42)
    c = run(tiny, n=3000, seed=43)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    assert not a.summary.equals(c.summary)
    assert a.seed == 42
    unseeded = run(tiny, n=1000)
    again = run(tiny, n=1000, seed=unseeded.seed)
    pd.testing.assert_frame_equal(unseeded.summary, again.summary, check_exact=True)


@pytest.fixture(scope="module")
def default() -> Dataset:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return riskengine.load_dataset()


def test_batching_gives_the_same_answer_as_one_batch(default):
    kw = {"minerals": ["cobalt", "lithium", "rare_earths"], "seed": 9, "n": 4500}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        one = riskengine.simulate(default, batch_size=4500, jobs=1, **kw)
        small = riskengine.simulate(default, batch_size=1000, jobs=2, **kw)
        odd = riskengine.simulate(default, batch_size=2500, jobs=3, **kw)
    # batches of whole blocks of 2,000 draws
    assert (small.batch_size, one.batch_size, odd.batch_size) == (2000, 6000, 4000)
    pd.testing.assert_frame_equal(one.summary, small.summary, check_exact=True)
    pd.testing.assert_frame_equal(one.summary, odd.summary, check_exact=True)
    pd.testing.assert_frame_equal(one.prices, small.prices, check_exact=True)


def test_jobs_are_checked(tiny):
    with pytest.raises(RiskEngineError, match="jobs"):
        run(tiny, n=10, jobs=0)


def test_draws_do_not_depend_on_batch_or_run_length(tiny):
    plan = mc.plan_simulation(tiny, probability=PROB)
    long = np.concatenate([v for _, v in mc.iter_blocks(plan, 4, 2500, 2000)], axis=1)
    short = np.concatenate([v for _, v in mc.iter_blocks(plan, 4, 1200, 1000)], axis=1)
    np.testing.assert_array_equal(long[:, :1200], short)


def test_histogram_quantiles_against_exact_order_statistics(default):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)
        plan = mc.plan_simulation(default, minerals=["cobalt", "copper"], market=False)
        result = riskengine.simulate(
            default, minerals=["cobalt", "copper"], n=3000, seed=21, market=False
        )
    draws = np.concatenate([v for _, v in mc.iter_blocks(plan, 21, 3000, 1000)], axis=1)
    n = draws.shape[1]
    ordered = np.sort(draws, axis=1)
    np.testing.assert_allclose(result.summary["mean_shortfall_t"], draws.mean(axis=1), rtol=1e-9)
    width = 10 ** (mc.DECADES / mc.N_BINS) - 1  # relative width of a bin, 5.5 %
    for level in mc.LEVELS:
        exact = ordered[:, math.ceil(level * n) - 1]
        got = result.summary[f"var{100 * level:g}_t"].to_numpy()
        resolved = exact > plan.upper * 10**-mc.DECADES
        np.testing.assert_array_less(np.abs(got - exact)[resolved], width * exact[resolved] + 1e-12)
        k = n - math.floor(level * n)
        es = ordered[:, n - k :].mean(axis=1)
        got_es = result.summary[f"es{100 * level:g}_t"].to_numpy()
        np.testing.assert_allclose(got_es[resolved], es[resolved], rtol=width)


# ----------------------------------------------------------------- model
def test_default_mapping_is_logistic_in_political_stability(tiny):
    result = run(tiny, n=1000, seed=1, probability=None)
    cells = result.cells.set_index("exporter")
    for country in ("AUS", "CHN", "COD", "DEU"):
        expected = 1 / (1 + math.exp(3.0 + PV[country]))
        assert cells.loc[country, "probability"] == pytest.approx(expected)
        assert cells.loc[country, "source"] == "mapping"
    assert ProbabilityMapping().probability(np.array([0.0]))[0] == pytest.approx(0.0474259)
    assert cells.loc["DEU", "exports_t"] == pytest.approx(10.0)


def test_missing_governance_is_named_or_raises():
    ds = build({**PV, "COD": np.nan})
    with pytest.warns(RiskEngineWarning, match="no WGI PV estimate for exporters COD"):
        result = riskengine.simulate(ds, n=1000, seed=1)
    assert result.cells.set_index("exporter").loc["COD", "source"] == "missing governance"
    with pytest.raises(DataError, match="no WGI PV estimate for exporters COD"):
        riskengine.simulate(ds, n=1000, seed=1, model={"probability": {"missing_value": "raise"}})


def test_model_file_round_trip_and_overrides(tiny, tmp_path: Path):
    path = tmp_path / "model.yaml"
    path.write_text(
        "probability: {indicator: PV, intercept: -2.0, slope: -0.5}\n"
        "severity: {distribution: fixed, value: 0.25}\n"
        "overrides:\n"
        "  - {country: China, probability: 0.9}\n"
        "  - {country: AUS, mineral: cobalt, probability: 0.0}\n",
        encoding="utf-8",
    )
    model = load_disruption_model(path)
    assert model.severity.mean == 0.25
    result = run(tiny, n=1000, seed=1, model=path, probability=None)
    cells = result.cells.set_index("exporter")
    assert "AUS" not in cells.index  # probability 0: not at risk
    assert cells.loc["CHN", "probability"] == 0.9
    assert cells.loc["COD", "probability"] == pytest.approx(1 / (1 + math.exp(2.0 - 0.9)))
    assert (cells["value"] == 0.25).all()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("severity: {distribution: fixed}\n", r"model.yaml:1: severity: a fixed severity needs"),
        (
            "probability:\n  slope: -1\n  intercept: high\n",
            r"model.yaml:3: probability.intercept: input should be a valid number",
        ),
        (
            "overrides:\n  - {country: CHN, probability: 1.5}\n",
            r"model.yaml:2: overrides\[0\].probability: input should be less than or equal to 1",
        ),
        ("severity: {alpah: 2}\n", r"model.yaml:1: severity.alpah: unexpected field 'alpah'"),
        ("overrides: [{country: CHN}]\n", r"an override needs a probability, a severity"),
        ("probability: [1, 2\n", r"model.yaml:\d+: invalid YAML"),
    ],
)
def test_model_file_errors_name_file_line_and_field(text, message):
    with pytest.raises(RiskEngineError, match=message):
        parse_disruption_model(text, "model.yaml")


def test_unknown_country_of_an_override_points_at_the_file(tiny, tmp_path: Path):
    path = tmp_path / "model.yaml"
    path.write_text("overrides:\n  - country: Atlantis\n    probability: 0.2\n")
    with pytest.raises(RiskEngineError, match=r"model.yaml:2: overrides\[0\].country: unknown"):
        run(tiny, n=1000, model=path, probability=None)
    model = DisruptionModel.model_validate(
        {"overrides": [{"country": "CHN", "mineral": "unobtainium", "probability": 0.2}]}
    )
    with pytest.raises(RiskEngineError, match=r"overrides\[0\].mineral: unknown mineral"):
        run(tiny, n=1000, model=model, probability=None)


def test_argument_errors(tiny):
    with pytest.raises(RiskEngineError, match="n must be at least 1"):
        run(tiny, n=0)
    with pytest.raises(RiskEngineError, match="thresholds"):
        run(tiny, n=10, thresholds=(1.5,))
    with pytest.raises(UnknownLabelError, match="unknown mineral: cobolt"):
        run(tiny, n=10, minerals=["cobolt"])
    with pytest.raises(UnknownLabelError, match="unknown country: Atlantis"):
        run(tiny, n=10, importers=["Atlantis"])


def test_progress_is_reported_per_batch(tiny):
    calls: list[tuple[int, int]] = []
    run(tiny, n=4500, seed=1, batch_size=2000, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(2000, 4500), (4000, 4500), (4500, 4500)]


# ---------------------------------------------------------- content grades
# (product, content, low, high): a symmetric and an asymmetric assumed range
GRADE_CATALOGUE = [("T:a", 0.2, 0.1, 0.3), ("T:b", 0.3, 0.25, 0.5)]
# the flows of ``FLOWS`` as traded products: gross tonnes (None: contained, no product)
GRADED_FLOWS = {
    ("AUS", "USA"): ("T:a", 500.0),  # 100 t contained at 0.2
    ("CHN", "USA"): ("", 50.0),
    ("COD", "USA"): ("T:b", 100.0),  # 30 t
    ("CHN", "DEU"): ("T:a", 200.0),  # 40 t
    ("DEU", "JPN"): ("T:a", 50.0),  # 10 t
}


def build_graded(
    flows: dict[tuple[str, str], tuple[str, float]] = GRADED_FLOWS,
    catalogue: list[tuple[str, float, float, float]] = GRADE_CATALOGUE,
) -> Dataset:
    tables = {
        "production": pd.DataFrame(
            [
                {"mineral": "cobalt", "stage": "refining", "country": c, "year": 2024,
                 "quantity": q, "unit": "t", "source": "test"}
                for c, q in PRODUCTION.items()
            ]
        ),
        "trade": pd.DataFrame(
            [
                {"mineral": "cobalt", "stage": "refining", "exporter": e, "importer": i,
                 "year": 2024, "product": p, "quantity": q, "value_usd": 1000.0 * q,
                 "source": "test"}
                for (e, i), (p, q) in flows.items()
            ]
        ),
        "governance": pd.DataFrame(
            [
                {"country": c, "year": 2022, "indicator": "PV", "value": pv, "source": "test"}
                for c, pv in PV.items()
            ]
        ),
    }  # fmt: skip
    products = pd.DataFrame(
        catalogue, columns=["product", "content", "content_low", "content_high"]
    ).assign(mineral="cobalt", stage="refining", share=1.0, basis="assumption", source="test")
    return Dataset.from_tables(tables, products=products, name="graded")


@pytest.fixture(scope="module")
def graded() -> Dataset:
    return build_graded()


def triangular_sd(low: float, mode: float, high: float) -> float:
    a, c, b = low, mode, high
    return math.sqrt((a * a + b * b + c * c - a * b - a * c - b * c) / 18.0)


def test_graded_case_has_the_contained_tonnes_of_the_plain_case(graded, tiny):
    # at central fractions the graded dataset is the plain one: same results without grades
    a, b = run(graded, n=2000, seed=3), run(tiny, n=2000, seed=3)
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=False, rtol=1e-12)


def test_grades_with_a_certain_disruption_spread_like_the_grades():
    # China ships 100 t of T:a at f ~ triangular(0.1, 0.2, 0.3) to the USA and always stops
    # half of it: the USA's shortfall is 50 f, mean 10 t, sd 50 x 0.0408 = 2.04 t
    ds = build_graded({("CHN", "USA"): ("T:a", 100.0)})
    n = 20_000
    on = run(ds, n=n, seed=1, probability={"CHN": 1.0}, severity=0.5, grades=True, market=False)
    off = run(ds, n=n, seed=1, probability={"CHN": 1.0}, severity=0.5)
    r, r0 = row(on, "USA"), row(off, "USA")
    assert r0["var95_t"] == r0["es99_t"] == r0["mean_shortfall_t"] == 10.0  # no spread
    assert "grade_sd_t" not in off.summary.columns
    sd = 50 * triangular_sd(0.1, 0.2, 0.3)
    assert sd == pytest.approx(2.0412, abs=1e-4)
    assert r["p_shortfall"] == 1.0
    assert abs(r["mean_shortfall_t"] - 10.0) < 4 * r["mean_shortfall_se_t"]
    assert r["mean_shortfall_se_t"] * math.sqrt(n) == pytest.approx(sd, rel=0.03)
    # every draw is disrupted alike: the grades are the whole spread
    assert r["grade_sd_t"] == pytest.approx(r["mean_shortfall_se_t"] * math.sqrt(n), rel=1e-9)
    assert abs(r["grade_mean_t"]) < 4 * sd / math.sqrt(n)
    for level in mc.LEVELS:
        tag = f"{100 * level:g}"
        exact = 50 * mc.triangular_quantile(np.array(level), 0.1, 0.2, 0.3)
        assert abs(r[f"var{tag}_t"] - exact) < 4 * r[f"var{tag}_se_t"] + 0.01 * exact
        u = np.linspace(level, 1.0, 200_001)[1:]
        es = 50 * mc.triangular_quantile(u, 0.1, 0.2, 0.3).mean()
        assert abs(r[f"es{tag}_t"] - es) < 4 * r[f"es{tag}_se_t"] + 0.01 * es
    assert on.params["grades"] is True
    assert on.params["grade_distribution"] == "triangular(content_low, content, content_high)"
    assert off.params["grades"] is False
    assert any("triangular(content_low, content, content_high)" in x for x in on.notes)
    assert off.notes == ()
    table = on.to_frame("grades").set_index("product")
    assert list(table.index) == ["T:a"]
    assert table.loc["T:a", "mean"] == pytest.approx(0.2)
    assert table.loc["T:a", "sd"] == pytest.approx(sd / 50)
    assert table.loc["T:a", "gross_at_risk_t"] == pytest.approx(100.0)
    assert off.to_frame("grades").empty


def test_a_draw_with_grades_is_the_draw_on_the_converted_flows(graded):
    # each draw's shortfalls equal those of a plan built on ds.with_content(its fractions)
    plan = mc.plan_simulation(graded, probability=PROB, grades=True, market=False)
    assert plan.grades is not None
    sev = mc.block_severities(plan, 8, 0, 40)
    fractions = mc.block_grades(plan, 8, 0, 40)
    got = mc.shortfalls(plan, sev, fractions)
    assert got.shape == (plan.n_series, 40)
    assert np.all(fractions >= plan.grades.low)
    assert np.all(fractions <= plan.grades.high)
    for k in range(40):
        other = mc.plan_simulation(
            graded.with_content(fractions[k]), probability=PROB, market=False
        )
        pd.testing.assert_frame_equal(other.series[["mineral", "stage", "country"]],
                                      plan.series[["mineral", "stage", "country"]])  # fmt: skip
        want = mc.shortfalls(other, sev[k : k + 1])[:, 0]
        np.testing.assert_allclose(got[:, k], want, rtol=1e-12, atol=1e-9)
    # Germany keeps its own exports of T:a when disrupted: they move with f_a too
    assert plan.cells.set_index("exporter").loc["DEU", "exports_t"] == pytest.approx(10.0)


def test_grades_leave_the_disruption_draws_unchanged(graded):
    on = run(graded, n=3000, seed=12, grades=True, market=False)
    off = run(graded, n=3000, seed=12)
    pd.testing.assert_frame_equal(on.cells, off.cells, check_exact=True)
    # every flow keeps a positive content, so the USA and Japan are short in the same draws
    for country in ("USA", "JPN"):
        assert row(on, country)["p_shortfall"] == row(off, country)["p_shortfall"]
    assert row(on, "USA")["mean_shortfall_t"] != row(off, "USA")["mean_shortfall_t"]
    # ... and the grade stream is the block's third child
    plan = mc.plan_simulation(graded, probability=PROB, grades=True, market=False)
    seq = np.random.SeedSequence(12, spawn_key=(1,)).spawn(3)[2]
    u = np.random.default_rng(seq).random((5, len(graded.products)))
    expected = mc.triangular_quantile(u, plan.grades.low, plan.grades.mode, plan.grades.high)
    np.testing.assert_array_equal(mc.block_grades(plan, 12, 1, 5), expected)


def test_grades_are_reproducible_and_independent_of_batch_size(graded):
    kw = {"n": 2500, "seed": 4, "grades": True, "severity": (2.0, 3.0)}
    one = run(graded, batch_size=3000, **kw)
    small = run(graded, batch_size=1000, **kw)
    again = run(graded, batch_size=1000, **kw)
    other = run(graded, batch_size=1000, **{**kw, "seed": 5})
    pd.testing.assert_frame_equal(one.summary, small.summary, check_exact=True)
    pd.testing.assert_frame_equal(small.summary, again.summary, check_exact=True)
    assert not small.summary.equals(other.summary)
    plan = mc.plan_simulation(graded, probability=PROB, grades=True, market=False)
    long = np.concatenate([v for _, v in mc.iter_blocks(plan, 4, 2500, 2000)], axis=1)
    short = np.concatenate([v for _, v in mc.iter_blocks(plan, 4, 1200, 1000)], axis=1)
    np.testing.assert_array_equal(long[:, :1200], short)


def test_grades_without_ranges_change_nothing(graded):
    fixed = build_graded(catalogue=[(p, c, c, c) for p, c, _, _ in GRADE_CATALOGUE])
    off = run(graded, n=2000, seed=6)
    on = run(fixed, n=2000, seed=6, grades=True, market=False)
    # grades off ignores the ranges; grades on without ranges draws the central fractions
    pd.testing.assert_frame_equal(off.summary, run(fixed, n=2000, seed=6).summary, check_exact=True)
    pd.testing.assert_frame_equal(
        on.summary.drop(columns=["grade_mean_t", "grade_sd_t"]), off.summary, check_exact=True
    )
    assert (on.summary[["grade_mean_t", "grade_sd_t"]] == 0).all().all()
    assert on.grades.empty
    assert any("no product of the simulated flows has a content range" in x for x in on.notes)


@pytest.mark.parametrize(("low", "mode", "high"), [(0.1, 0.2, 0.3), (0.25, 0.3, 0.5),
                                                   (0.1, 0.1, 0.3), (0.1, 0.3, 0.3)])  # fmt: skip
def test_triangular_quantile_against_scipy(low, mode, high):
    from scipy import stats

    u = np.linspace(0.0, 1.0, 1001)
    want = stats.triang(c=(mode - low) / (high - low), loc=low, scale=high - low).ppf(u)
    got = mc.triangular_quantile(u, np.full(1001, low), np.full(1001, mode), np.full(1001, high))
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)
    assert mc.triangular_quantile(np.array([0.3]), 0.2, 0.2, 0.2)[0] == 0.2  # no range


def test_grades_argument_error(tiny):
    with pytest.raises(RiskEngineError, match=r"grades must be True or False .* got 'yes'"):
        run(tiny, n=10, grades="yes")


# --------------------------------------------------------- market response
def test_a_certain_draw_with_the_market_response_is_the_scenario_engine(default):
    """DR Congo withholding 60 % of its cobalt at every stage in every draw: each draw
    is the scenario of export bans on all importers, run by the engine."""
    model = {
        "probability": {"constant": 0.0},
        "severity": {"distribution": "fixed", "value": 0.6},
        "overrides": [{"country": "COD", "probability": 1.0}],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = riskengine.simulate(default, minerals=["cobalt"], n=1000, seed=3, model=model)
        shocks = "".join(
            f"  - {{type: export_ban, exporters: COD, minerals: cobalt, stage: {s}, "
            "importers: all, severity: 0.6}\n"
            for s in ("mining", "intermediate", "refining")
        )
        scenario = parse_scenario(
            f"name: t\ndescription: d\nyear: {result.year}\nsources: [s]\n"
            f"duration_months: 12\nshocks:\n{shocks}",
            "t.yaml",
        )
        engine = riskengine.run_scenario(default, scenario)
    got = result.summary.set_index(["stage", "country"])
    want = engine.importers.set_index(["stage", "country"])["shortfall_gross_t"]
    assert (got["p_shortfall"].isin([0.0, 1.0])).all()  # every draw is the same
    both = got.index.intersection(want[want > 0].index)
    assert len(both) > 10
    np.testing.assert_allclose(got.loc[both, "mean_shortfall_t"], want[both], rtol=1e-6)
    assert (got.drop(index=both)["mean_shortfall_t"] <= 1e-6).all() or set(
        got.index[got["mean_shortfall_t"] > 1e-6]
    ) <= set(want[want > 0].index)
    prices = result.prices.set_index("stage")["mean_price_change_pct"]
    market = engine.market.set_index("stage")["price_change_pct"]
    assert len(prices) >= 1
    for stage in prices.index:
        assert prices[stage] == pytest.approx(market[stage], rel=1e-6), stage


def test_pass_through_and_propagation_in_a_draw_are_the_engines():
    """A refined market fed by ore: a draw that disrupts the ore exporter cuts the refiner's
    output and its exports, as the scenario engine does."""
    countries = ["AUS", "CHN", "COD", "JPN", "USA"]
    c_idx = pd.Index(countries, name="country")
    prod = np.zeros((1, len(STAGES), 1, len(c_idx)))
    tq = np.zeros((1, len(STAGES), 1, len(c_idx), len(c_idx)))
    mine, ref = STAGES.index("mining"), STAGES.index("refining")
    at = countries.index
    prod[0, mine, 0, at("COD")] = 100.0
    prod[0, ref, 0, at("CHN")] = 80.0
    tq[0, mine, 0, at("COD"), at("CHN")] = 80.0
    tq[0, ref, 0, at("CHN"), at("JPN")] = 40.0
    tq[0, ref, 0, at("JPN"), at("USA")] = 20.0  # Japan re-exports half of what it buys
    gov = np.zeros((len(WGI_INDICATORS), 1, len(c_idx)))
    ds = Dataset.from_arrays(
        minerals=["cobalt"], stages=STAGES, years=[2024], countries=c_idx,
        production=prod, trade=tq, trade_value=tq * 1000.0, governance=gov,
        governance_years=[2022], name="chain",
    )  # fmt: skip
    model = {
        "probability": {"constant": 0.0},
        "severity": {"distribution": "fixed", "value": 0.5},
        "overrides": [{"country": "COD", "probability": 1.0}],
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = riskengine.simulate(ds, n=1000, seed=1, model=model)
    short = result.summary.set_index(["stage", "country"])["mean_shortfall_t"]
    # COD withholds 40 t of ore: China's feed falls by half, and so do its refined
    # output (40 t) and exports (20 t); it is 20 t short. Japan loses 20 t and passes
    # half on: 10 t short, and the US loses those 10 t.
    assert short[("mining", "CHN")] == pytest.approx(40.0)
    assert short[("refining", "CHN")] == pytest.approx(20.0)
    assert short[("refining", "JPN")] == pytest.approx(10.0)
    assert short[("refining", "USA")] == pytest.approx(10.0)


def test_a_draw_without_an_outside_market_is_said_not_hidden() -> None:
    # two refiners that consume and trade with each other, both always disrupted:
    # no country is left outside to price the loss
    c_idx = pd.Index(["AUS", "CHN"], name="country")
    s = STAGES.index("refining")
    prod = np.zeros((1, len(STAGES), 1, 2))
    prod[0, s, 0] = [100.0, 80.0]
    tq = np.zeros((1, len(STAGES), 1, 2, 2))
    tq[0, s, 0, 0, 1], tq[0, s, 0, 1, 0] = 30.0, 10.0
    gov = np.full((len(WGI_INDICATORS), 1, 2), np.nan)
    gov[WGI_INDICATORS.index("PV"), 0] = [0.5, -0.5]
    ds = Dataset.from_arrays(
        minerals=["cobalt"], years=[2024], countries=c_idx, production=prod, trade=tq,
        trade_value=tq * 1000.0, governance=gov, governance_years=[2022], name="closed",
    )  # fmt: skip
    with pytest.warns(RiskEngineWarning, match="cobalt/refining: in some draws every country"):
        result = riskengine.simulate(
            ds, n=1000, seed=1, probability={"AUS": 1.0, "CHN": 1.0}, severity=1.0
        )
    assert (result.prices["mean_price_change_pct"] == 0).all()


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3_000_000))
def test_units_cover_the_blocks_in_equal_shares(n):
    from riskengine.cluster import MAX_JOBS

    units = mc.unit_ranges(n)
    n_blocks = -(-n // mc.STREAM_BLOCK)
    assert [b for u in units for b in u] == list(range(n_blocks))  # in order, once each
    sizes = [len(u) for u in units]
    assert max(sizes) <= mc.UNIT_BLOCKS
    assert sizes == sorted(sizes, reverse=True)
    assert max(sizes) - min(sizes) <= 1
    if n_blocks > mc.UNIT_BLOCKS:  # one, two or four workers get equal shares
        assert len(units) % MAX_JOBS == 0 or len(units) == n_blocks
    else:
        assert len(units) == 1


def test_one_beta_distribution_draws_what_per_cell_parameters_draw(default):
    # every cell of the default model has the same Beta: drawn with scalar parameters,
    # the stream gives the very draws that per-cell parameters give
    plan = mc.plan_simulation(default, minerals=["cobalt", "copper", "lithium"])
    assert plan.one_beta is not None
    fast = mc.block_severities(plan, 8, 2, 1000)
    plan.__dict__["one_beta"] = None  # the general path
    np.testing.assert_array_equal(fast, mc.block_severities(plan, 8, 2, 1000))


def test_a_unit_sent_back_by_a_worker_arrives_unchanged(default):
    import pickle

    plan = mc.plan_simulation(default, minerals=["cobalt", "copper"])
    limits = mc.threshold_tonnes(plan, mc.THRESHOLDS)
    acc = mc.unit_statistics(plan, 3, 3000, 0, 1000, limits)
    back = pickle.loads(pickle.dumps(acc))
    assert back.n == acc.n
    for name in ("counts", "sums", "sumsq", "mins", "maxs", "above", "effect"):
        sent, got = getattr(acc, name), getattr(back, name)
        assert got.dtype == sent.dtype, name
        np.testing.assert_array_equal(got, sent, err_msg=name)


def test_values_up_to_the_floor_count_as_none():
    # with the market response a block holds -dA uncleared (gains negative,
    # rounding dust up to TINY); the statistics are those of the cleared block
    rng = np.random.default_rng(5)
    n_series, n_draws = 40, 1000
    values = rng.lognormal(0.0, 2.0, (n_series, n_draws))
    values[rng.random(values.shape) < 0.3] *= -1.0  # gains
    values[rng.random(values.shape) < 0.1] = mc.TINY * rng.random()  # dust
    values[:, ::7] = mc.TINY
    upper = values.max(axis=1)
    floor = np.full(n_series, mc.TINY)
    floor[-5:] = 0.0  # price series: any rise counts
    limits = np.array([0.5 * mc.TINY, 2.0, np.nan])[:, None] * np.ones(n_series)[None, :]
    raw = mc._Accumulator(upper, limits, floor)
    raw.add(values.copy())
    cleared = values.copy()
    cleared[:-5] = mc._clip(cleared[:-5])
    cleared[-5:] = np.maximum(cleared[-5:], 0.0)
    ref = mc._Accumulator(upper, limits, np.zeros(n_series))
    ref.add(cleared)
    for name in ("counts", "sums", "sumsq", "mins", "maxs", "above"):
        np.testing.assert_array_equal(getattr(raw, name), getattr(ref, name), err_msg=name)
    # a loop reference of the counts
    for s in range(n_series):
        positive = cleared[s][cleared[s] > 0]
        assert raw.positive[s] == len(positive)
        assert raw.above[0, s] == np.sum(positive > 0.5 * mc.TINY)  # below TINY: every shortfall
        assert raw.above[1, s] == np.sum(positive > 2.0)
        assert raw.above[2, s] == 0


def _occurrences_loop(rng: np.random.Generator, p: np.ndarray, n: int) -> dict[int, list[int]]:
    """Reference of mc.occurrences: the same numbers, each cell's gaps added one by one."""
    with np.errstate(divide="ignore"):
        rate = -np.log1p(-np.minimum(p, 1.0))
    todo = [c for c in range(len(p)) if p[c] > 0]
    reached = {c: -1 for c in todo}
    hits: dict[int, list[int]] = {c: [] for c in todo}
    while todo:
        q = np.minimum(p[todo], 1.0)
        mean = (n - 1 - np.array([reached[c] for c in todo], dtype=float)) * q
        counts = np.ceil(mean + mc.GAP_SIGMAS * np.sqrt(mean * (1 - q)) + mc.GAP_SIGMAS)
        counts = np.maximum(counts, 1).astype(int)
        gaps = rng.exponential(np.repeat(1.0 / rate[todo], counts))
        at = 0
        for c, m in zip(todo, counts, strict=True):
            for g in gaps[at : at + m]:
                reached[c] += max(math.ceil(g), 1)
                if reached[c] < n:
                    hits[c].append(reached[c])
            at += m
        todo = [c for c in todo if reached[c] < n]
    return hits


@pytest.mark.parametrize("sigmas", [mc.GAP_SIGMAS, 0.0])
def test_occurrences_against_a_loop_over_cells(sigmas, monkeypatch):
    # with no margin most cells run short and take more gaps, round after round
    monkeypatch.setattr(mc, "GAP_SIGMAS", sigmas)
    p = np.array([0.0, 0.01, 0.2, 1.0, 1e-30, 0.45, 0.05, 0.0, 0.3])  # 1e-30: gaps of 1e30
    cells, draws = mc.occurrences(np.random.default_rng(4), p, 500)
    want = _occurrences_loop(np.random.default_rng(4), p, 500)
    assert cells.tolist() == [c for c in sorted(want) for _ in want[c]]
    assert draws.tolist() == [d for c in sorted(want) for d in want[c]]
    assert draws[cells == 3].tolist() == list(range(500))  # p = 1: every draw


def test_occurrences_are_independent_draws_with_the_cells_probability():
    p = np.array([0.01, 0.06, 0.3, 0.45])
    n, blocks = 2000, 200
    counts = np.zeros((blocks, len(p)))
    both = np.zeros(len(p))  # disrupted in two consecutive draws
    for b in range(blocks):
        cells, draws = mc.occurrences(np.random.default_rng(b), p, n)
        counts[b] = np.bincount(cells, minlength=len(p))
        hit = np.zeros((n, len(p)), dtype=bool)
        hit[draws, cells] = True
        both += (hit[1:] & hit[:-1]).sum(axis=0)
    # a block's count is binomial(n, p): mean and variance within 5 standard errors
    mean, var = n * p, n * p * (1 - p)
    assert (np.abs(counts.mean(axis=0) - mean) < 5 * np.sqrt(var / blocks)).all()
    assert (np.abs(counts.var(axis=0) / var - 1) < 5 * np.sqrt(2 / blocks)).all()
    pairs = blocks * (n - 1)
    assert (np.abs(both / pairs - p**2) < 5 * np.sqrt(p**2 * (1 - p**2) / pairs) + 1e-6).all()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([0.05, 0.1, 0.25, 0.5, 1e-9]), min_size=0, max_size=4),
    st.integers(0, 2**32 - 1),
)
def test_threshold_counts_against_a_loop(fractions, seed):
    rng = np.random.default_rng(seed)
    n_series, n_draws = 30, 200
    values = rng.lognormal(0.0, 1.5, (n_series, n_draws)) * (rng.random((n_series, 1)) < 0.9)
    values[:, ::9] = 0.5 * mc.TINY  # rounding dust: no shortfall, above no threshold
    consumption = np.where(rng.random(n_series) < 0.8, rng.lognormal(2.0, 1.0, n_series), 0.0)
    with np.errstate(invalid="ignore"):
        limits = np.array([np.where(consumption > 0, t * consumption, np.nan) for t in fractions])
    limits = limits.reshape(len(fractions), n_series)
    acc = mc._Accumulator(values.max(axis=1), limits, np.full(n_series, mc.TINY))
    acc.add(values)
    for t in range(len(fractions)):
        for s in range(n_series):
            short = values[s][values[s] > mc.TINY]
            want = np.sum(short > limits[t, s]) if consumption[s] > 0 else 0
            assert acc.above[t, s] == want
