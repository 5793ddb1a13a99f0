"""Two-exporter bans (``sweep(pairs=True)``, N-2) against the scenario engine, hand-checked
figures, chunking and errors."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskengine.cli import main
from riskengine.dataset import Dataset
from riskengine.errors import RiskEngineError
from riskengine.stress.pairs import pair_candidates
from riskengine.stress.sweeps import apply_bans, sweep
from tests.test_stress_sweep import FLOWS, assert_matches_engine, build

DATA = Path(__file__).resolve().parent / "fixtures" / "stress" / "data"


@pytest.fixture(scope="module")
def synthetic() -> Dataset:
    return build()


@pytest.mark.parametrize(
    ("severity", "method"), [(1.0, "riskengine"), (0.4, "geopolrisk"), (1.0, "eu")]
)
def test_every_pair_of_a_synthetic_market_equals_the_engine(synthetic, severity, method):
    params = {"regions": {"EU": ["DEU", "NLD"]}} if method != "riskengine" else {}
    result = sweep(synthetic, pairs=True, severity=severity, method=method, **params)
    assert result.pairs
    assert len(result.bans) > 10
    compared = assert_matches_engine(synthetic, result, list(result.bans["ban"]), method, **params)
    assert compared > 200


def test_pairs_are_every_two_exporters_of_a_mineral_and_stage(synthetic):
    result = sweep(synthetic, pairs=True)
    exporters: dict[tuple[str, str], set[str]] = {}
    for m, s, e, _ in FLOWS:
        exporters.setdefault((m, s), set()).add(e)
    want = {
        (m, s, f"{a}+{b}")
        for (m, s), names in exporters.items()
        for a, b in itertools.combinations(sorted(names), 2)
    }
    got = set(result.bans[["mineral", "stage", "exporter"]].itertuples(index=False))
    assert got == want


def test_a_pair_blocks_what_its_two_bans_block(synthetic):
    singles = sweep(synthetic).bans.set_index(["mineral", "stage", "exporter"])["blocked_t"]
    pairs = sweep(synthetic, pairs=True).bans
    assert len(pairs)
    for row in pairs.itertuples(index=False):
        a, b = row.exporter.split("+")
        both = singles[(row.mineral, row.stage, a)] + singles[(row.mineral, row.stage, b)]
        assert row.blocked_t == pytest.approx(both, rel=1e-12)


def test_pair_flows_by_hand():
    flows0 = np.array([[0.0, 4.0, 6.0], [1.0, 0.0, 2.0], [3.0, 5.0, 0.0]])
    pairs = pair_candidates(flows0)
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 2]]
    shocked, blocked = apply_bans(flows0, pairs, None, 0.5)
    np.testing.assert_array_equal(shocked[0], [[0.0, 2.0, 3.0], [0.5, 0.0, 1.0], [3.0, 5.0, 0.0]])
    np.testing.assert_array_equal(blocked[0], [0.5, 2.0, 4.0])  # 0.5 x (1, 4, 6 + 2)
    np.testing.assert_array_equal(
        pair_candidates(flows0, np.array([False, False, True])), [[0, 2], [1, 2]]
    )


def test_exporters_keep_the_pairs_with_them_and_chunks_change_nothing(synthetic):
    whole = sweep(synthetic, pairs=True, chunk_size=1000)
    one_by_one = sweep(synthetic, pairs=True, chunk_size=1)
    for table in ("bans", "market", "impacts"):
        pd.testing.assert_frame_equal(whole.to_frame(table), one_by_one.to_frame(table))
    china = sweep(synthetic, pairs=True, exporters=["CHN"])
    assert len(china.bans)
    assert all("CHN" in e.split("+") for e in china.bans["exporter"])
    assert set(china.bans["exporter"]) == {e for e in whole.bans["exporter"] if "CHN" in e}


def test_pairs_refuse_a_target_and_need_a_bool(synthetic):
    with pytest.raises(RiskEngineError, match="pairs=True bans two exporters' exports to all"):
        sweep(synthetic, pairs=True, target="USA")
    with pytest.raises(RiskEngineError, match="pairs must be True or False, got 'yes'"):
        sweep(synthetic, pairs="yes")  # type: ignore[arg-type]


def test_cli_sweep_pairs_for_one_mineral(capsys):
    code = main(["sweep", "--pairs", "--data", str(DATA), "--mineral", "cobalt",
                 "--importer", "USA", "--top", "2"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.startswith("Sweep: ")
    assert "two-exporter bans (100% of exports to all importers)" in out.splitlines()[0]
    ranked = [line for line in out.splitlines() if line.startswith("1  cobalt")]
    assert ranked
    assert "+" in ranked[0].split()[3]
