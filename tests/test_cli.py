"""``riskengine score``: every option, the three formats, and errors as one line."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import riskengine
from riskengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
SCORE_OPTIONS = (
    "--data",
    "--mineral",
    "--country",
    "--stage",
    "--year",
    "--method",
    "--format",
    "--output",
    "--top",
    "--strict",
    "--scenario",
    "--verbose",
)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, ANSI.sub("", out), ANSI.sub("", err)


def all_records(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    code, out, err = run(capsys, "score", "--data", str(TINY), "--format", "json", *args)
    assert code == 0, err
    # stderr carries only data-gap notes, never errors or warnings about the run
    assert all(line.startswith("note: ") for line in err.splitlines()), err
    records = json.loads(out)
    assert isinstance(records, list)
    return records


def score_json(capsys: pytest.CaptureFixture[str], *args: str) -> list[dict[str, object]]:
    """The score records (the concentration records have an empty country)."""
    return [r for r in all_records(capsys, *args) if r["country"] != ""]


def find(records: list[dict[str, object]], **match: object) -> dict[str, object]:
    hits = [r for r in records if all(r[k] == v for k, v in match.items())]
    assert len(hits) == 1, f"{len(hits)} records match {match}"
    return hits[0]


def tables(text: str) -> list[list[list[str]]]:
    """Data rows (split on white space) of every text table in the output."""
    out = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        rule = next((i for i, ln in enumerate(lines) if ln.startswith("---")), None)
        if rule is not None:
            out.append([ln.split() for ln in lines[rule + 1 :]])
    return out


def copy_tiny(tmp_path: Path) -> Path:
    target = tmp_path / "tiny"
    shutil.copytree(TINY, target)
    return target


# ------------------------------------------------------------------ output


def test_default_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "score", "--data", str(TINY))
    assert code == 0
    assert all(line.startswith("note: ") for line in err.splitlines()), err
    assert "Most concentrated mineral/stage pairs, 2024" in out
    assert "Most exposed importers (riskengine), 2024" in out
    concentration, exposed = tables(out)
    assert concentration == [
        ["cobalt", "mining", "5,200", "60.0%", "COD", "100.0%", "1.92"],
        ["copper", "refining", "4,500", "60.0%", "CHN", "90.0%", "2.22"],
        ["copper", "mining", "3,000", "45.0%", "CHL", "80.0%", "3.33"],
    ]
    # importers ranked by score; Germany's cobalt (0.9 from DR Congo) first
    assert exposed[0][:5] == ["1", "cobalt", "mining", "DEU", "0.653"]
    assert [
        "7",
        "copper",
        "mining",
        "JPN",
        "0.394",
        "0.400",
        "0.000",
        "80.0%",
        "0.000",
        "46.5%",
    ] in (exposed)
    assert out.rstrip().endswith(f"dataset: {TINY}; governance (WGI) year used: 2023")


@pytest.mark.parametrize("method", ["geopolrisk", "eu"])
def test_region_tables(capsys: pytest.CaptureFixture[str], method: str) -> None:
    code, out, err = run(capsys, "score", "--data", str(TINY), "--method", method)
    assert code == 0, err
    assert f"Most exposed importers ({method}), 2024" in out
    _, exposed = tables(out)
    region = {(r[1], r[2]): r[4] for r in exposed if r[3] == "EU27"}
    if method == "eu":
        assert region == {
            ("copper", "refining"): "4.215",
            ("copper", "mining"): "3.336",
            ("cobalt", "mining"): "2.798",
        }
    else:
        assert region == {
            ("cobalt", "mining"): "0.322",
            ("copper", "refining"): "0.180",
            ("copper", "mining"): "0.120",
        }


@pytest.mark.parametrize("method", ["riskengine", "geopolrisk", "eu"])
def test_json_records_carry_the_common_fields(
    capsys: pytest.CaptureFixture[str], method: str
) -> None:
    records = score_json(capsys, "--method", method)
    assert records
    for record in records:
        assert {"mineral", "stage", "year", "hhi", "score", "country"} <= set(record)
        assert record["year"] == 2024


def test_method_headlines(capsys: pytest.CaptureFixture[str]) -> None:
    gpr = score_json(capsys, "--method", "geopolrisk")
    jpn = find(gpr, mineral="copper", stage="mining", country="JPN")
    assert jpn["score"] == pytest.approx(0.12, abs=1e-9)
    assert jpn["cf"] == pytest.approx(14.655, abs=5e-4)
    assert jpn["hhi"] == pytest.approx(0.3, abs=1e-9)
    eu = score_json(capsys, "--method", "eu")
    assert find(eu, mineral="cobalt", stage="mining", country="EU27")["score"] == pytest.approx(
        2.797704, abs=1e-9
    )
    comp = score_json(capsys, "--method", "riskengine")
    peru = find(comp, mineral="copper", stage="mining", country="PER")
    assert peru["export_concentration"] == pytest.approx(0.5, abs=1e-9)
    assert "XOT" not in {r["country"] for r in comp}


def test_csv_format(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "score", "--data", str(TINY), "--method", "geopolrisk", "-f", "csv")
    assert code == 0
    frame = pd.read_csv(io.StringIO(out), keep_default_na=False, na_values=[""])
    assert list(frame.columns[:5]) == ["mineral", "stage", "year", "country", "hhi"]
    jpn = frame[(frame["country"] == "JPN") & (frame["stage"] == "mining")]
    assert jpn["import_risk"].tolist() == pytest.approx([0.4])
    # concentration records first (empty country), then every importer and region
    assert frame["country"].isna().sum() == 3  # cobalt mining, copper mining and refining
    assert set(frame["country"].dropna()) == {"CHN", "DEU", "FRA", "JPN", "EU27"}


def test_mineral_option_repeats(capsys: pytest.CaptureFixture[str]) -> None:
    cobalt = score_json(capsys, "--mineral", "cobalt")
    assert {r["mineral"] for r in cobalt} == {"cobalt"}
    both = score_json(capsys, "--mineral", "cobalt", "-m", "copper")
    assert {r["mineral"] for r in both} == {"cobalt", "copper"}


def test_country_option_takes_codes_names_and_regions(capsys: pytest.CaptureFixture[str]) -> None:
    japan = score_json(capsys, "--country", "Japan")
    assert {r["country"] for r in japan} == {"JPN"}
    two = score_json(capsys, "--country", "JPN", "-c", "Peru")
    assert {r["country"] for r in two} == {"JPN", "PER"}
    region = score_json(capsys, "--method", "geopolrisk", "--country", "EU27")
    assert {r["country"] for r in region} == {"EU27"}
    assert find(region, mineral="copper", stage="mining")["import_risk"] == pytest.approx(0.4)
    eu = score_json(capsys, "--method", "eu", "--country", "EU27", "--country", "Japan")
    assert {r["country"] for r in eu} == {"EU27", "JPN"}
    assert find(eu, mineral="copper", stage="mining", country="JPN")["import_reliance"] == (
        pytest.approx(0.8)
    )
    # the composite scores countries: a region stands for its members in the data
    members = score_json(capsys, "--method", "riskengine", "--country", "EU27")
    assert {r["country"] for r in members} == {"DEU", "FRA"}


def test_stage_and_year_options(capsys: pytest.CaptureFixture[str]) -> None:
    refining = score_json(capsys, "--stage", "refining")
    assert {r["stage"] for r in refining} == {"refining"}
    assert {r["country"] for r in refining} == {"CHN", "DEU", "JPN"}
    older = score_json(capsys, "--year", "2023", "-s", "mining")
    assert {r["year"] for r in older} == {2023}
    assert {r["country"] for r in older} == {"CHN", "PER"}
    chn = find(score_json(capsys, "-y", "2023", "--method", "geopolrisk"), country="CHN")
    assert chn["score"] == pytest.approx(0.3 * 0.7 * 1000 / 2000)


def test_output_option_writes_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "scores.json"
    code, out, err = run(
        capsys,
        "score",
        "--data",
        str(TINY),
        "--method",
        "eu",
        "-f",
        "json",
        "--output",
        str(target),
    )
    assert code == 0
    assert out == ""
    records = json.loads(target.read_text())
    assert err.splitlines()[-1] == f"wrote {len(records)} records to {target}"
    records = [r for r in records if r["country"]]
    assert find(records, mineral="cobalt", stage="mining", country="EU27")["score"] == (
        pytest.approx(2.797704, abs=1e-9)
    )


def test_output_to_an_unwritable_place(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "score", "--data", str(TINY), "-o", str(tmp_path / "missing" / "out.csv")
    )
    assert code == 1
    assert err.startswith(f"error: cannot write {tmp_path / 'missing' / 'out.csv'}: ")


def test_top_option_limits_table_rows(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "score", "--data", str(TINY), "--top", "1")
    assert code == 0
    concentration, exposed = tables(out)
    assert concentration == [["cobalt", "mining", "5,200", "60.0%", "COD", "100.0%", "1.92"]]
    assert len(exposed) == 1
    code, _, err = run(capsys, "score", "--data", str(TINY), "--top", "0")
    assert code == 1
    assert err == "error: --top must be at least 1, got 0\n"


def test_strict_option(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "score", "--data", str(TINY), "--strict")
    assert (code, err) == (0, "")
    gappy = copy_tiny(tmp_path)
    with (gappy / "production.csv").open("a") as out:
        out.write("copper,mining,USA,2024,,t,test,W,\n")
    code, out, err = run(capsys, "score", "--data", str(gappy))
    assert code == 0
    # the dataset's check and the method report the gap once, summarised
    assert err == (
        "note: 1 production figure(s) withheld or not available in the source, left out of "
        "shares (details: --verbose)\n"
    )
    code, out, err = run(capsys, "score", "--data", str(gappy), "--verbose")
    assert code == 0
    assert err.startswith("note: 1 production figure(s) are withheld or not available")
    assert "copper/mining/2024/USA" in err
    assert len(err.splitlines()) == 1
    code, out, err = run(capsys, "score", "--data", str(gappy), "--strict")
    assert code == 1
    assert out == ""
    assert err.startswith(f"error: the dataset '{gappy}' fails 1 consistency check(s) (strict mode")
    assert "Traceback" not in err


def test_strict_option_refuses_missing_governance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    gappy = copy_tiny(tmp_path)
    gov = gappy / "governance.csv"
    gov.write_text(
        "".join(ln for ln in gov.read_text().splitlines(True) if not ln.startswith("PER,"))
    )
    code, _, err = run(capsys, "score", "--data", str(gappy), "--method", "geopolrisk")
    assert code == 0
    assert err.startswith(
        "note: 1 supplier(s) without a WGI political stability (PV) score; results that depend "
        "on them are NaN (details: --verbose)\n"
    )
    code, _, err = run(capsys, "score", "--data", str(gappy), "--method", "geopolrisk", "-v")
    assert err.startswith("note: no WGI political stability (PV) for PER;")
    code, _, err = run(capsys, "score", "--data", str(gappy), "--method", "geopolrisk", "--strict")
    assert code == 1
    assert err.startswith(
        "error: no WGI political stability (PV) for 1 countries that the computation needs: PER."
    )
    assert len(err.splitlines()) == 1


# ------------------------------------------------------------------ help and version


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "score" in out
    assert "--version" in out
    assert "--help" in out


def test_score_help_mentions_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "score", "--help")
    assert code == 0
    for option in SCORE_OPTIONS:
        assert option in out, option
    text = " ".join(out.replace("│", " ").split())  # unwrap the help panel
    for words in (
        "riskengine, geopolrisk or eu",
        "table, csv, json, xlsx or parquet",
        "region such as EU27",
    ):
        assert words in text, words


def test_version_option(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--version")
    assert code == 0
    assert out.strip() == riskengine.__version__


# ------------------------------------------------------------------ errors

ERRORS = [
    (["--mineral", "gold"], "error: unknown mineral: gold. Valid minerals: cobalt, copper."),
    (["--country", "Narnia"], "error: unknown country: Narnia. Valid countr"),
    (["--method", "gpr"], "error: unknown method: gpr. Valid methods: riskengine, geopolrisk, eu."),
    (
        ["--format", "xml"],
        "error: unknown format: xml. Valid formats: table, csv, json, xlsx, parquet.",
    ),
    (["--year", "1999"], "error: unknown year: 1999. Valid years: 2023, 2024."),
    (
        ["--stage", "smelting"],
        "error: unknown stage: smelting. Valid stages: mining, intermediate, refining, component.",
    ),
]


@pytest.mark.parametrize(("args", "start"), ERRORS)
def test_unknown_labels_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], args: list[str], start: str
) -> None:
    code, out, err = run(capsys, "score", "--data", str(TINY), *args)
    assert code == 1
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith(start), err
    assert "Traceback" not in err


def test_unknown_country_lists_codes_and_regions(capsys: pytest.CaptureFixture[str]) -> None:
    _, _, err = run(capsys, "score", "--data", str(TINY), "--country", "Narnia")
    assert err.rstrip().endswith("EU27, AUS, CHL, CHN, COD, DEU, FRA, JPN, PER, XOT.")


def test_missing_data_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "score", "--data", str(tmp_path / "nowhere"))
    assert code == 1
    assert out == ""
    assert err == (
        f"error: dataset directory {tmp_path / 'nowhere'} does not exist; pass a directory "
        f"holding production.csv (and optionally trade.csv, governance.csv, minerals.csv)\n"
    )


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "score", "--year", "last")
    assert code == 2
    assert "--year" in err
    assert "Traceback" not in err


# ------------------------------------------------------------------ the installed script


def _script() -> str:
    script = Path(sys.executable).with_name("riskengine")
    if script.is_file():
        return str(script)
    found = shutil.which("riskengine")
    if found is None:
        pytest.skip("the riskengine console script is not installed")
    return found


def test_installed_script_runs() -> None:
    proc = subprocess.run(
        [
            _script(),
            "score",
            "--data",
            str(TINY),
            "--method",
            "geopolrisk",
            "--mineral",
            "copper",
            "--country",
            "Japan",
            "--stage",
            "mining",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    conc, record = json.loads(proc.stdout)
    assert (conc["country"], conc["hhi"]) == ("", pytest.approx(0.3, abs=1e-9))
    assert (record["country"], record["year"]) == ("JPN", 2024)
    assert record["score"] == pytest.approx(0.12, abs=1e-9)
    assert record["cf"] == pytest.approx(14.655, abs=5e-4)


def test_concentration_records_in_csv_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    # cobalt mining in the tiny fixture: AUS 4,000 t and COD 6,000 t of mine output
    records = all_records(capsys, "--mineral", "cobalt", "--stage", "mining")
    conc = [r for r in records if r["country"] == ""]
    assert len(conc) == 1
    assert conc[0]["hhi"] == pytest.approx(0.4**2 + 0.6**2)
    assert conc[0]["cr1"] == pytest.approx(0.6)
    assert conc[0]["top_producer"] == "COD"
    assert conc[0]["world_production_t"] == 10_000
    scored = [r for r in records if r["country"]]
    assert {"imports_t", "exports_t", "production_t", "import_reliance", "score"} <= set(scored[0])


@pytest.mark.parametrize("method", ["geopolrisk", "eu"])
def test_every_method_reports_totals_and_reliance(
    capsys: pytest.CaptureFixture[str], method: str
) -> None:
    scored = score_json(capsys, "--method", method)
    for key in ("imports_t", "exports_t", "production_t", "import_reliance", "score"):
        assert all(key in r for r in scored), key


@pytest.mark.parametrize(
    ("year", "message"),
    [
        ("2023", "has no production figures for 2023"),
        ("2019", "Valid years: 2023, 2024"),
    ],
)
def test_a_year_without_production_is_refused(
    capsys: pytest.CaptureFixture[str], year: str, message: str
) -> None:
    code, _, err = run(capsys, "score", "--data", str(TINY), "--year", year, "-m", "cobalt")
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_ctrl_c_is_one_line_and_exit_code_130(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import riskengine.scenarios.backtest as backtest

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(backtest, "backtest", interrupted)
    target = tmp_path / "moves.csv"
    assert main(["backtest", "-f", "csv", "-o", str(target)]) == 130
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines()[-1] == "interrupted"
    assert "Traceback" not in captured.err
    assert not target.exists()  # nothing half-written
