"""``riskengine scenario run|validate|list|schema`` and ``riskengine score --scenario``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "scenarios"
DATA = FIXTURES / "data"
SHOCK = FIXTURES / "cobalt_shock.yaml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, ANSI.sub("", out), ANSI.sub("", err)


def test_run_table(capsys):
    code, out, err = run(capsys, "scenario", "run", SHOCK, "--data", DATA)
    assert code == 0, err
    assert out.startswith("Scenario: cobalt shock\n")
    assert "duration 6 months; method riskengine" in out
    assert "Market: tonnes per year while the shock lasts" in out
    assert "Importers most short of supply" in out
    assert "Largest score changes (riskengine)" in out
    # DR Congo loses half its 100 t; 40 t less ore reaches China (80 -> 40)
    lines = out.splitlines()
    assert lines.index(next(x for x in lines if x.startswith("Importers most short"))) < (
        lines.index(next(x for x in lines if x.startswith("Market:")))
    )  # the loss per importer leads
    line = next(x for x in lines if x.startswith("cobalt   mining    CHN"))
    # shortfall t, % of demand, days of cover, extra cost, price, consumption t
    assert line.split()[3:5] == ["40", "44.4"]
    assert line.split()[-2] == "90"
    assert "less ore reaches refiners, whose refined output falls by 42 t" in out


def test_run_csv_tables(capsys):
    code, out, _ = run(capsys, "scenario", "run", SHOCK, "--data", DATA, "--format", "csv")
    assert code == 0
    scores = pd.read_csv(io.StringIO(out))
    assert list(scores.columns) == [
        "mineral", "stage", "year", "country", "measure", "baseline", "shocked", "delta",
    ]  # fmt: skip
    code, out, _ = run(
        capsys, "scenario", "run", SHOCK, "--data", DATA, "-f", "csv", "--table", "importers"
    )
    assert code == 0
    imp = pd.read_csv(io.StringIO(out)).set_index(["stage", "country"])
    assert imp.loc[("mining", "CHN"), "shortfall_t"] == pytest.approx(40.0)
    usa = imp.loc[("refining", "USA")]
    assert usa["stockpile_t"] == pytest.approx(20 * 30 / 365)  # 30 days of 20 t a year
    assert usa["stockpile_cover_days"] == pytest.approx(30 * 20 / usa["shortfall_gross_t"])


def test_run_json_document_and_output_file(capsys, tmp_path):
    target = tmp_path / "result.json"
    code, out, err = run(
        capsys, "scenario", "run", SHOCK, "--data", DATA, "-f", "json", "-o", target
    )
    assert code == 0
    assert out == ""
    assert f"wrote scenario 'cobalt shock' to {target}" in err
    doc = json.loads(target.read_text())
    assert set(doc) == {
        "scenario", "method", "notes", "market", "importers", "concentration", "scores",
    }  # fmt: skip
    assert doc["scenario"]["duration_months"] == 6
    mining = next(r for r in doc["market"] if r["stage"] == "mining")
    assert mining["production_lost_t"] == pytest.approx(50.0)
    # no restriction at mining: the 120 t consumed are all outside, the 50 t lost a gap of
    # 50 / 120 of outside consumption (two-region model)
    assert mining["gap_fraction"] == pytest.approx(50 / 120)


def test_run_other_methods(capsys):
    code, out, err = run(
        capsys, "scenario", "run", SHOCK, "--data", DATA, "--method", "geopolrisk", "-f", "json",
        "--table", "scores",
    )  # fmt: skip
    assert code == 0, err
    measures = {r["measure"] for r in json.loads(out)}
    assert {"import_risk", "score", "cf"} <= measures


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--method", "nope"], "unknown method: nope"),
        (["--format", "xml"], "unknown format: xml"),
        (["--table", "nope"], "unknown table: nope"),
        (["--top", "0"], "--top must be at least 1"),
    ],
)
def test_run_option_errors(capsys, args, message):
    code, _, err = run(capsys, "scenario", "run", SHOCK, "--data", DATA, *args)
    assert code == 1
    assert err.startswith("error: ")
    assert message in err


def test_run_unknown_file_lists_bundled_scenarios(capsys):
    code, _, err = run(capsys, "scenario", "run", "no-such-scenario")
    assert code == 1
    assert "no bundled scenario of that name" in err
    assert "cn-graphite-licences-2023" in err


def test_run_unknown_labels_name_file_and_line(capsys):
    code, _, err = run(capsys, "scenario", "run", FIXTURES / "unknown_labels.yaml", "--data", DATA)
    assert code == 1
    assert f"{FIXTURES / 'unknown_labels.yaml'}:17: shocks[2].exporters[0]: unknown country" in err


def test_run_year_missing_from_data(capsys, tmp_path):
    moved = tmp_path / "s.yaml"
    moved.write_text(SHOCK.read_text().replace("year: 2024", "year: 2019"))
    code, _, err = run(capsys, "scenario", "run", moved, "--data", DATA)
    assert code == 1
    assert f"{moved}:4: year: the dataset '{DATA}' has no year 2019; valid: 2024" in err


def test_validate(capsys):
    code, out, err = run(
        capsys, "scenario", "validate", SHOCK, FIXTURES / "minimal.yaml", "--data", DATA
    )
    assert code == 0, err
    assert out.count("ok: ") == 2
    code, out, err = run(
        capsys, "scenario", "validate", SHOCK, FIXTURES / "invalid_fields.yaml",
        FIXTURES / "unknown_labels.yaml", "--data", DATA,
    )  # fmt: skip
    assert code == 1
    assert out.count("ok: ") == 1
    assert "invalid_fields.yaml: 11 problems" in err
    assert "unknown country 'CHX'" in err
    assert "2 of 3 scenario file(s) invalid" in err
    code, out, _ = run(
        capsys, "scenario", "validate", FIXTURES / "unknown_labels.yaml", "--format-only"
    )
    assert code == 0
    assert "format checked" in out


def test_validate_library_against_default_data(capsys):
    files = sorted((ROOT / "scenarios").glob("*.yaml"))
    code, out, err = run(capsys, "scenario", "validate", *files)
    assert code == 0, err
    assert out.count("ok: ") == len(files)


def test_list(capsys):
    code, out, _ = run(capsys, "scenario", "list")
    assert code == 0
    for path in (ROOT / "scenarios").glob("*.yaml"):
        assert path.stem in out
    assert "(hypothetical)" in out
    code, out, _ = run(capsys, "scenario", "list", "--dir", FIXTURES)
    assert "cobalt_shock" in out
    assert "INVALID" in out  # the broken fixtures are listed as such


def test_schema_command_prints_the_committed_schema(capsys, tmp_path):
    code, out, _ = run(capsys, "scenario", "schema")
    assert code == 0
    committed = json.loads((ROOT / "scenarios" / "schema.json").read_text())
    assert json.loads(out) == committed
    target = tmp_path / "schema.json"
    assert run(capsys, "scenario", "schema", "-o", target)[0] == 0
    assert target.read_text() == (ROOT / "scenarios" / "schema.json").read_text()


def test_score_with_scenario_shows_baseline_beside(capsys):
    code, out, err = run(capsys, "score", "--data", DATA, "--scenario", SHOCK, "-f", "csv")
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out)).set_index(["stage", "country"])
    usa = frame.loc[("refining", "USA")]
    assert usa["score_change"] == pytest.approx(usa["score"] - usa["score_baseline"])
    assert usa["score_change"] < 0  # the US now buys from Australia (better governance)
    code, out, _ = run(capsys, "score", "--data", DATA, "--scenario", SHOCK, "-m", "cobalt")
    assert code == 0
    assert out.startswith("Scenario: cobalt shock")
    assert "baseline" in out
    assert "change" in out
    code, _, err = run(capsys, "score", "--data", DATA, "--scenario", SHOCK, "--year", "2023")
    assert code == 1
    assert "--year 2023 differs from the year of the scenario" in err
