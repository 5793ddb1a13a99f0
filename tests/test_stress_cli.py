"""``riskengine sweep``, ``riskengine simulate`` and ``riskengine sensitivity``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "fixtures" / "stress" / "data"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, ANSI.sub("", out), ANSI.sub("", err)


def test_sweep_table_for_one_importer(capsys):
    code, out, err = run(capsys, "sweep", "--data", DATA, "--importer", "USA", "--top", "3")
    assert code == 0, err
    assert out.startswith("Sweep: 11 single-exporter bans (100% of exports to all importers)")
    assert "Bans that hurt USA most (shortfall as % of demand)" in out
    assert "Bans that hurt USA most (score increase)" in out
    # China's refined cobalt: 30 t blocked, 34 t short with what Japan passes on, of 49 t
    line = next(x for x in out.splitlines() if x.startswith("2  cobalt   refining  CHN"))
    assert line.split()[4:9] == ["refining", "49", "30", "34", "69.4"]


def test_sweep_exporter_table_and_csv(capsys):
    code, out, _ = run(capsys, "sweep", "--data", DATA, "--exporter", "CHN")
    assert code == 0
    assert "Importers CHN could hurt most" in out
    code, out, _ = run(capsys, "sweep", "--data", DATA, "-f", "csv", "--table", "bans")
    assert code == 0
    bans = pd.read_csv(io.StringIO(out)).set_index(["mineral", "stage", "exporter"])
    assert len(bans) == 11
    china = bans.loc[("cobalt", "refining", "CHN")]
    assert china["blocked_t"] == pytest.approx(110.0)  # 30 + 20 + 25 + 35 t
    assert china["withheld_t"] == pytest.approx(110.0)
    chile = bans.loc[("copper", "mining", "CHL")]
    assert chile["propagated_loss_t"] == pytest.approx(450.0)  # China's and Japan's cathode


def test_sweep_targeted_json_ranking(capsys, tmp_path):
    path = tmp_path / "ranking.json"
    code, _, err = run(
        capsys, "sweep", "--data", DATA, "--target", "USA", "--severity", "0.5",
        "-f", "json", "--table", "ranking", "--importer", "USA", "-o", path,
    )  # fmt: skip
    assert code == 0, err
    assert f"to {path}" in err
    rows = json.loads(path.read_text())
    assert rows[0]["country"] == "USA"
    assert rows[0]["rank"] == 1
    assert {r["target"] for r in rows} == {"USA"}
    assert all(r["severity"] == 0.5 for r in rows)


def test_simulate_is_reproducible_and_reports_errors(capsys):
    args = ("simulate", "--data", DATA, "-n", "2000", "--seed", "7", "-f", "csv")
    code, first, err = run(capsys, *args)
    assert code == 0, err
    _, second, _ = run(capsys, *args)
    assert first == second
    summary = pd.read_csv(io.StringIO(first))
    for col in ("mean_shortfall_t", "mean_shortfall_se_t", "p_above_5pct", "p_above_5pct_se",
                "var95_t", "var95_se_t", "es99_t", "es99_se_t"):  # fmt: skip
        assert col in summary.columns
    usa = summary[(summary["country"] == "USA") & (summary["stage"] == "refining")]
    assert set(usa["mineral"]) == {"cobalt", "copper"}
    code, out, err = run(capsys, "simulate", "--data", DATA, "-n", "1000", "--seed", "7")
    assert code == 0, err
    assert out.startswith("Monte Carlo: 1,000 draws, seed 7, year 2024")
    assert "Largest risks" in out
    assert "Outside price change (two-region model" in out  # the market response is on
    code, out, err = run(
        capsys, "simulate", "--data", DATA, "-n", "1000", "--seed", "7", "--no-market"
    )
    assert code == 0, err
    assert "Outside price change" not in out


def test_simulate_model_file_error_is_one_line(capsys, tmp_path):
    model = tmp_path / "model.yaml"
    model.write_text("severity:\n  distribution: beta\n  alpha: -1\n")
    code, out, err = run(capsys, "simulate", "--data", DATA, "--model", model, "-n", "10")
    assert code == 1
    assert out == ""
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1
    assert f"{model}:3: severity.alpha: input should be greater than 0" in lines[0]


def test_sensitivity_tornado(capsys):
    code, out, err = run(
        capsys, "sensitivity", "--data", DATA, "-c", "USA", "-m", "cobalt", "-s", "refining",
        "--top", "4",
    )  # fmt: skip
    assert code == 0, err
    assert "cobalt / refining / USA: 0.550" in out
    rows = [x for x in out.splitlines() if x.startswith(("governance", "parameter", "flow"))]
    assert len(rows) == 4
    assert rows[0].startswith("governance CHN")
    assert "|" in rows[0]
    code, out, _ = run(
        capsys, "sensitivity", "--data", DATA, "-c", "USA", "-m", "cobalt", "-f", "csv",
        "--input", "governance",
    )  # fmt: skip
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert set(table["kind"]) == {"governance"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("sweep", "-m", "cobolt"), "error: unknown mineral: cobolt. Valid minerals: cobalt"),
        (("sweep", "--method", "gpr"), "error: unknown method: gpr."),
        (("sweep", "--target", "Atlantis"), "error: unknown country: Atlantis."),
        (("sweep", "--severity", "2"), "error: severity must be in (0, 1], got 2.0"),
        (("sweep", "--by", "tonnes"), "error: unknown ranking measure: tonnes."),
        (("simulate", "-n", "0"), "error: n must be at least 1, got 0"),
        (("simulate", "--year", "1990"), "error: unknown year: 1990."),
        (("sensitivity", "-m", "cobalt"), "error: give at least one --country"),
        (("sensitivity", "-c", "USA", "--input", "prices"), "error: unknown input kind: prices"),
    ],
)
def test_errors_are_one_line_and_exit_1(capsys, args, message):
    code, out, err = run(capsys, *args, "--data", DATA)
    assert code == 1
    assert out == ""
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, err
    assert lines[0].startswith(message), lines[0]


@pytest.fixture
def graded_data(tmp_path: Path) -> Path:
    """The stress fixture with its copper concentrate traded as HS92:260300 (20-35 % Cu)."""
    out = tmp_path / "graded"
    out.mkdir()
    for name in ("production.csv", "governance.csv"):
        (out / name).write_text((DATA / name).read_text())
    trade = pd.read_csv(DATA / "trade.csv")
    ore = (trade["mineral"] == "copper") & (trade["stage"] == "mining")
    trade.insert(4, "product", "")
    trade.loc[ore, "product"] = "HS92:260300"
    trade.to_csv(out / "trade.csv", index=False)
    return out


def test_simulate_grades(capsys, graded_data):
    args = (
        "simulate",
        "--data",
        graded_data,
        "-n",
        "2000",
        "--seed",
        "7",
        "--no-market",
        "-f",
        "csv",
    )
    code, plain, err = run(capsys, *args)
    assert code == 0, err
    _, off, _ = run(capsys, *args, "--no-grades")
    assert off == plain  # off is the default
    code, on, err = run(capsys, *args, "--grades")
    assert code == 0, err
    a, b = pd.read_csv(io.StringIO(plain)), pd.read_csv(io.StringIO(on))
    assert "grade_sd_t" not in a.columns
    keys = ["mineral", "stage", "country"]
    pd.testing.assert_frame_equal(a[keys], b[keys])
    ore = (b["mineral"] == "copper") & (b["stage"] == "mining")
    assert (b.loc[ore, "grade_sd_t"] > 0).all()
    assert (b.loc[~ore, "grade_sd_t"] == 0).all()
    # the other series are untouched by the grades
    pd.testing.assert_frame_equal(a[~ore], b.loc[~ore, list(a.columns)], check_exact=True)
    code, out, err = run(capsys, *args[:-2], "--grades", "--max-reexport", "1")
    assert code == 0, err
    assert "grade sd t" in out
    assert "grades: the content fraction of 1 product drawn once per draw from triangular" in out


def test_sensitivity_content_rows(capsys, graded_data):
    code, out, err = run(
        capsys, "sensitivity", "--data", graded_data, "-c", "CHL", "-m", "copper", "-f", "csv",
        "--input", "content",
    )  # fmt: skip
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out), keep_default_na=False)
    assert set(table["kind"]) == {"content"}
    assert set(table["input"]) == {"HS92:260300"}
    first = table.iloc[0]
    assert (first["basis"], first["input_stage"]) == ("assumption", "mining")
    assert (first["value"], first["input_low"], first["input_high"]) == (0.27, 0.2, 0.35)
    # Chile's export concentration moves with the grade of what it ships to China and Japan
    assert first["stage"] == "mining"
    assert first["score_low"] < first["score"] < first["score_high"]
