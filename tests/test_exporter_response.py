"""ExporterResponse (the engine's response prepared for fixed exporters) against respond_rows.

``respond_rows`` is the reference: it is itself checked against the scenario
engine run shock by shock (tests/test_scenarios_engine.py). The prepared
response must give the same ``dA``, ledger tonnes and prices' inputs for any
batch of deficits - with pass-through bounds binding or not, and with the
refining stage losing feed.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import sparse

import riskengine
from riskengine.scenarios.engine import ExporterResponse, respond_rows
from riskengine.stress import montecarlo as mc

N_STAGES, MINE, INTER, REF = 4, 0, 1, 2
FEED = [MINE, INTER]


def _compare(production, flows, cells, tracked, deficit):
    """Largest disagreement of the two, relative to the largest tonnage of each quantity."""
    n_s, n = production.shape
    prepared = ExporterResponse.prepare(production, flows, FEED, MINE, REF, cells, tracked)
    got = prepared.respond(sparse.csr_array(deficit))
    scale = np.ones((len(deficit), n_s, n))
    scale[:, :, cells] = 1.0 - deficit[:, None, :]
    want = respond_rows(production, flows, scale, FEED, MINE, REF)
    size = max(1.0, float(np.abs(np.asarray(flows)).sum()), float(production.sum()))
    for t, (s, columns) in enumerate(tracked):
        np.testing.assert_allclose(
            got.change[t], want.supply_change(s, columns), rtol=0, atol=1e-9 * size
        )
    for name in ("withheld", "passed_on", "propagated_loss"):
        np.testing.assert_allclose(
            getattr(got, name), getattr(want, name), rtol=0, atol=1e-9 * size, err_msg=name
        )
    return got


@st.composite
def worlds(draw):
    """A mineral on ``n`` countries: re-exporters, refiners fed by ore and intermediates."""
    n = draw(st.integers(3, 7))
    tonnes = st.floats(0.0, 100.0)
    production = np.array(draw(st.lists(tonnes, min_size=N_STAGES * n, max_size=N_STAGES * n)))
    production = production.reshape(N_STAGES, n)
    production[production < 30.0] = 0.0  # many countries produce nothing
    flows = np.array(draw(st.lists(tonnes, min_size=N_STAGES * n * n, max_size=N_STAGES * n * n)))
    flows = flows.reshape(N_STAGES, n, n)
    flows[flows < 50.0] = 0.0  # sparse trade
    for s in range(N_STAGES):
        np.fill_diagonal(flows[s], 0.0)
    cells = np.sort(
        np.array(draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True)))
    )
    k = draw(st.integers(1, 6))
    level = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))
    deficit = np.array(draw(st.lists(level, min_size=k * len(cells), max_size=k * len(cells))))
    tracked = [(s, np.arange(n)) for s in range(N_STAGES)]
    return production, list(flows), cells, tracked, deficit.reshape(k, len(cells))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_the_prepared_response_is_respond_rows(world):
    _compare(*world)


def test_a_bound_that_binds_is_solved_exactly():
    # B re-exports 90 % of what it takes in; A withholds all its exports to B,
    # and B itself withholds half: B can pass on only what it still exports
    production = np.zeros((N_STAGES, 3))
    production[MINE] = [100.0, 10.0, 0.0]
    flows = [np.zeros((3, 3)) for _ in range(N_STAGES)]
    flows[MINE][0, 1] = 90.0  # A -> B
    flows[MINE][1, 2] = 90.0  # B -> C
    deficit = np.array([[1.0, 0.5], [0.2, 0.0]])
    got = _compare(production, flows, np.array([0, 1]), [(MINE, np.arange(3))], deficit)
    assert got.bound[MINE] == 1  # only the first member binds
    # member 0: B's exports after its own cut are 45 t, all of which it loses
    assert got.change[0][2, 0] == pytest.approx(-90.0)


def test_feed_lost_upstream_cuts_refined_output():
    production = np.zeros((N_STAGES, 3))
    production[MINE, 0] = 100.0
    production[REF, 1] = 80.0
    flows = [np.zeros((3, 3)) for _ in range(N_STAGES)]
    flows[MINE][0, 1] = 80.0  # ore to the refiner
    flows[REF][1, 2] = 40.0  # refined metal to the buyer
    deficit = np.array([[0.5], [0.0]])
    tracked = [(REF, np.array([1, 2]))]
    got = _compare(production, flows, np.array([0]), tracked, deficit)
    # the refiner loses half its feed: 40 t less output, 20 t less exports
    assert got.propagated_loss[0, REF] == pytest.approx(40.0)
    np.testing.assert_allclose(got.change[0][:, 0], [-20.0, -20.0])
    np.testing.assert_allclose(got.change[0][:, 1], 0.0)


@pytest.mark.parametrize("mineral", ["cobalt", "copper", "nickel", "rare_earths", "antimony"])
def test_on_the_default_data_a_block_of_draws_is_respond_rows(mineral):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plan = mc.plan_simulation(riskengine.load_dataset(), minerals=[mineral])
    hits = mc._hits(plan, 11, 1000, range(1))
    for mp, d in mc._by_mineral(plan, hits):
        r = mp.response
        assert r is not None
        e = r.engine
        got = e.respond(d)
        n_s, n = e.production0.shape
        scale = np.ones((d.shape[0], n_s, n))
        scale[:, :, e.exporters] = 1.0 - d.toarray()[:, None, :]
        want = respond_rows(e.production0, r.flows, scale, e.feed, e.s_mine, e.s_ref, e.prepared)
        size = float(e.production0.sum() + sum(f.sum() for f in r.flows))
        for t, (s, rows, _) in enumerate(r.tracked):
            np.testing.assert_allclose(
                got.change[t], want.supply_change(s, rows), rtol=0, atol=1e-10 * size
            )
        np.testing.assert_allclose(got.withheld, want.withheld, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(
            got.propagated_loss, want.propagated_loss, rtol=1e-9, atol=1e-10 * size
        )
