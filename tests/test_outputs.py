"""Analyst outputs: the one writer (formats, atomic, inputs refused), notes once, views, HTML."""

from __future__ import annotations

import doctest
import json
import pickle
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskengine
from riskengine import notes as notes_module
from riskengine.cli import main
from riskengine.errors import RiskEngineError
from riskengine.notes import Note, summarize
from riskengine.report import Output, write_output
from riskengine.views import (
    MAJOR_IMPORTER_SHARE,
    exposed_importers,
    mark_importers,
    score_view,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny"
SCENARIO_DATA = ROOT / "tests" / "fixtures" / "scenarios" / "data"
SHOCK = ROOT / "tests" / "fixtures" / "scenarios" / "cobalt_shock.yaml"
STRESS_DATA = ROOT / "tests" / "fixtures" / "stress" / "data"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, ANSI.sub("", out), ANSI.sub("", err)


def gappy(tmp_path: Path, source: Path = TINY) -> Path:
    """A copy of ``source`` with a withheld production figure (a data gap)."""
    target = tmp_path / source.name
    shutil.copytree(source, target)
    with (target / "production.csv").open("a") as out:
        out.write("copper,mining,USA,2024,,t,test,W,\n")
    return target


# ------------------------------------------------------------------ formats


def test_xlsx_round_trips_to_the_csv_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = gappy(tmp_path)
    csv, xlsx = tmp_path / "scores.csv", tmp_path / "scores.xlsx"
    for fmt, path in (("csv", csv), ("xlsx", xlsx)):
        code, out, err = run(capsys, "score", "--data", data, "-f", fmt, "-o", path)
        assert code == 0, err
        assert out == ""
    assert err.splitlines()[-1] == f"wrote 17 records to {xlsx} (sheets scores, notes)"
    from_csv = pd.read_csv(csv)
    from_xlsx = pd.read_excel(xlsx, sheet_name="scores")
    assert list(from_xlsx.columns) == list(from_csv.columns)
    # the concentration records: empty country, NaN scores; the score records: NaN production
    conc = from_xlsx["country"].isna()
    assert conc.sum() == 3
    assert from_xlsx.loc[conc, "score"].isna().all()
    assert from_xlsx.loc[~conc, "world_production_t"].isna().all()
    # booleans read back as 0/1 beside the NaN of the concentration records
    pd.testing.assert_frame_equal(from_xlsx, from_csv, check_dtype=False, rtol=1e-9)
    book = pd.read_excel(xlsx, sheet_name="notes")
    assert list(book["section"].unique()) == ["run", "note", "source"]
    run_rows = dict(zip(book["kind"], book["text"], strict=False))
    assert run_rows["command"] == "riskengine score"
    # the details of the gap are in the workbook, whatever the terminal shows
    detail = book[book["kind"] == "production_withheld"]["text"]
    assert any("copper/mining/2024/USA" in text for text in detail)


def test_parquet_of_one_table_is_one_file_with_its_notes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    data = gappy(tmp_path)
    target = tmp_path / "scores.parquet"
    code, _, err = run(capsys, "score", "--data", data, "-f", "parquet", "-o", target)
    assert code == 0, err
    assert target.is_file()
    assert err.splitlines()[-1] == f"wrote 17 records to {target}"
    frame = pd.read_parquet(target)
    code, out, _ = run(capsys, "score", "--data", data, "-f", "json")
    records = pd.DataFrame(json.loads(out))
    assert list(frame.columns) == list(records.columns)
    assert np.allclose(frame["score"], records["score"].astype(float), equal_nan=True)
    assert (frame["country"] == "").sum() == 3
    meta = json.loads(pq.read_schema(target).metadata[b"riskengine"])
    assert meta["table"] == "scores"
    assert meta["about"]["method"] == "riskengine"
    assert any("copper/mining/2024/USA" in n for n in meta["notes"])


def test_parquet_of_several_tables_is_a_directory_replaced_whole(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "shock"
    args = ("scenario", "run", SHOCK, "--data", SCENARIO_DATA, "-f", "parquet", "-o", target)
    code, _, err = run(capsys, *args)
    assert code == 0, err
    names = ["concentration", "importers", "market", "scores"]
    assert sorted(p.name for p in target.iterdir()) == [f"{n}.parquet" for n in names]
    importers = pd.read_parquet(target / "importers.parquet").set_index(["stage", "country"])
    assert importers.loc[("mining", "CHN"), "shortfall_t"] == pytest.approx(40.0)
    stale = target / "old.parquet"
    stale.write_bytes(b"left from an earlier run")
    code, _, err = run(capsys, *args)
    assert code == 0, err
    assert not stale.exists()  # the directory was replaced, not merged into
    (target / "readme.txt").write_text("mine")
    code, _, err = run(capsys, *args)
    assert code == 1
    assert err.startswith(f"error: --output {target} is a directory holding other files")
    assert len(err.splitlines()) == 1
    code, _, err = run(capsys, *args, "--table", "market")
    assert code == 1  # one table is a file; the directory is not overwritten
    assert "is a directory; a parquet output of one table is a file" in err


def test_xlsx_of_a_scenario_and_a_sweep_has_every_table(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    book = tmp_path / "shock.xlsx"
    code, _, err = run(
        capsys, "scenario", "run", SHOCK, "--data", SCENARIO_DATA, "-f", "xlsx", "-o", book
    )
    assert code == 0, err
    sheets = pd.read_excel(book, sheet_name=None)
    assert list(sheets) == ["scores", "concentration", "importers", "market", "notes"]
    about = sheets["notes"].set_index("kind")["text"]
    assert about["scenario"] == "cobalt shock"
    assert "none: a test fixture (2024)" in set(sheets["notes"]["text"])
    sweep = tmp_path / "sweep.xlsx"
    code, _, err = run(capsys, "sweep", "--data", STRESS_DATA, "-f", "xlsx", "-o", sweep)
    assert code == 0, err
    sheets = pd.read_excel(sweep, sheet_name=None)
    assert list(sheets) == ["impacts", "bans", "market", "ranking", "exposure", "notes"]
    code, out, _ = run(capsys, "sweep", "--data", STRESS_DATA, "-f", "csv", "--table", "bans")
    bans = pd.read_csv(pd.io.common.StringIO(out))
    pd.testing.assert_frame_equal(sheets["bans"], bans, check_dtype=False, rtol=1e-9)


@pytest.mark.parametrize(
    "args",
    [
        ["score"],
        ["scenario", "run", str(SHOCK)],
        ["sweep"],
        ["simulate"],
        ["sensitivity"],
        ["backtest"],
        ["data", "check"],
    ],
)
@pytest.mark.parametrize("fmt", ["xlsx", "parquet"])
def test_binary_formats_need_an_output_file(
    capsys: pytest.CaptureFixture[str], args: list[str], fmt: str
) -> None:
    code, out, err = run(capsys, *args, "--format", fmt)
    assert code == 1
    assert out == ""
    assert err == (
        f"error: --format {fmt} writes a binary file: pass --output FILE "
        f"(e.g. --output results.{fmt})\n"
    )


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "parquet", "table"])
def test_an_input_is_never_overwritten(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    data = gappy(tmp_path)
    scenario = tmp_path / "shock.yaml"
    shutil.copy(SHOCK, scenario)
    before = (data / "trade.csv").read_bytes(), scenario.read_bytes()
    code, _, err = run(
        capsys, "score", "--data", data, "-f", fmt, "-o", data / "trade.csv"
    )  # fmt: skip
    assert code == 1
    assert err.startswith(f"error: --output {data / 'trade.csv'} would overwrite trade.csv")
    code, _, err = run(
        capsys, "scenario", "run", scenario, "--data", SCENARIO_DATA, "-f", fmt, "-o", scenario
    )
    assert code == 1
    assert err == (
        f"error: --output {scenario} is {scenario}, an input of this command; choose another "
        f"output file\n"
    )
    assert ((data / "trade.csv").read_bytes(), scenario.read_bytes()) == before


def test_the_writer_itself_refuses_inputs_and_needs_a_path(tmp_path: Path) -> None:
    out = Output(tables={"t": pd.DataFrame({"a": [1.0]})})
    source = tmp_path / "in.csv"
    source.write_text("a\n1\n")
    with pytest.raises(RiskEngineError, match="an input of this command"):
        write_output(out, "xlsx", source, inputs=[source])
    with pytest.raises(RiskEngineError, match="pass --output FILE"):
        write_output(out, "parquet", None)
    assert write_output(out, "csv").stdout == "a\n1\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"the previous workbook")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_excel", broken)
    out = Output(tables={"t": pd.DataFrame({"a": [1.0]})})
    with pytest.raises(RiskEngineError, match=r"^cannot write .*out.xlsx: No space left"):
        write_output(out, "xlsx", target)
    assert target.read_bytes() == b"the previous workbook"
    assert [p.name for p in tmp_path.iterdir()] == ["out.xlsx"]


def test_a_failed_directory_write_leaves_the_old_directory(tmp_path: Path) -> None:
    from riskengine.io.atomic import atomic_directory

    target = tmp_path / "out"
    target.mkdir()
    (target / "a.parquet").write_bytes(b"old")

    def interrupted() -> None:
        with atomic_directory(target) as new:
            (new / "a.parquet").write_bytes(b"new")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert (target / "a.parquet").read_bytes() == b"old"
    with atomic_directory(target) as new:
        (new / "b.parquet").write_bytes(b"new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in target.iterdir()] == ["b.parquet"]


def test_an_xlsx_sheet_too_long_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from riskengine.report import files

    monkeypatch.setattr(files, "XLSX_MAX_ROWS", 2)
    out = Output(tables={"big": pd.DataFrame({"a": [1.0, 2.0, 3.0]})})
    with pytest.raises(RiskEngineError, match="the table big has 3 rows, more than an xlsx"):
        write_output(out, "xlsx", tmp_path / "big.xlsx")
    assert not any(tmp_path.iterdir())


# ------------------------------------------------------------------ notes, once


def test_notes_of_one_kind_merge_into_one_line() -> None:
    lines = summarize(
        [
            Note("no PV for PER, CHL", "governance_missing", items=("PER", "CHL")),
            Note("no PV for CHL, BOL", "governance_missing", items=("CHL", "BOL")),
            Note("2 withheld", "production_withheld", total=2),
            Note("2 figures withheld: a, b", "production_withheld", items=("a", "b")),
            "a choice of the method",
            "a choice of the method",
        ]
    )
    assert [s.line for s in lines] == [
        "3 supplier(s) without a governance score",
        "2 production figure(s) withheld or not available in the source, left out of shares",
        "a choice of the method",
    ]
    assert lines[0].items == ("PER", "CHL", "BOL")
    assert lines[1].detail == "2 figures withheld: a, b"  # the one naming the items
    assert not lines[2].has_detail


def test_a_long_note_without_a_kind_is_shortened_to_its_headline() -> None:
    text = "refiners with no known feed: " + ", ".join(f"C{i:02d}" for i in range(60))
    (summary,) = summarize([text])
    assert summary.line == "refiners with no known feed"
    assert summary.detail == text


def test_notes_survive_pickling_and_warnings() -> None:
    note = Note("no PV for PER", "governance_missing", items=("PER",), label="x")
    copy = pickle.loads(pickle.dumps(note))
    assert (copy, copy.kind, copy.items, copy.total, copy.label) == (
        "no PV for PER", "governance_missing", ("PER",), 1, "x",
    )  # fmt: skip
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.warn(note, riskengine.RiskEngineWarning, stacklevel=1)
    assert summarize([caught[0].message])[0].line == "1 x"


def test_notes_module_examples() -> None:
    assert doctest.testmod(notes_module, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


def _gap_lines(err: str) -> list[str]:
    lines = err.splitlines()
    assert lines, "no notes at all"
    assert len(lines) == len(set(lines)), err
    assert all(line.startswith("note: ") for line in lines), err
    return lines


@pytest.mark.parametrize(
    "extra", [[], ["--scenario", "cd-cobalt-export-quota-2025"]], ids=["score", "scenario"]
)
def test_score_reports_each_data_gap_once(
    capsys: pytest.CaptureFixture[str], extra: list[str]
) -> None:
    code, _, err = run(capsys, "score", *extra)
    assert code == 0, err
    lines = _gap_lines(err)
    for gap in ("production figure(s)", "without a quantity", "outlier unit value"):
        assert sum(gap in line for line in lines) == 1, err


def test_a_governance_gap_under_a_scenario_is_reported_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(SCENARIO_DATA, data)
    gov = data / "governance.csv"
    gov.write_text("".join(ln for ln in gov.read_text().splitlines(True) if "AUS," not in ln))
    args = ("score", "--data", data, "--method", "geopolrisk", "--scenario", SHOCK)
    code, _, err = run(capsys, *args)
    assert code == 0, err
    lines = _gap_lines(err)
    assert [ln for ln in lines if "governance" in ln or "political stability" in ln] == [
        "note: 1 supplier(s) without a WGI political stability (PV) score; results that depend "
        "on them are NaN (details: --verbose)"
    ]
    code, _, err = run(capsys, *args, "--verbose")
    assert next(ln for ln in _gap_lines(err) if "AUS" in ln).startswith(
        "note: no WGI political stability (PV) for AUS;"
    )


# ------------------------------------------------------------------ the importers that matter


def test_importer_share_and_reexport_hub_rule() -> None:
    frame = pd.DataFrame(
        {
            "mineral": "m",
            "stage": "s",
            "year": 2024,
            "country": ["AAA", "BBB", "CCC", "DDD", "EEE", "EU27"],
            "imports_t": [100.0, 50.0, 50.0, 0.0, 800.0, 150.0],
            "exports_t": [80.0, 62.5, 63.0, 10.0, 0.0, 0.0],
            "production_t": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "score": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4],
        }
    )
    marked = mark_importers(frame).set_index("country")
    # exports between 80 % and 125 % of imports + production: a hub; beyond, a producer
    assert marked["reexport_hub"].to_dict() == {
        "AAA": True, "BBB": True, "CCC": False, "DDD": False, "EEE": False, "EU27": False,
    }  # fmt: skip
    # world imports are the countries' (the region would count its members twice)
    assert marked.loc["AAA", "import_share"] == pytest.approx(0.1)
    assert marked.loc["EU27", "import_share"] == pytest.approx(0.15)
    ranked = exposed_importers(marked.reset_index(), top=2, floor=0.04)
    assert list(ranked["country"]) == ["CCC", "EEE", "AAA", "BBB"]
    assert list(ranked["rank"].fillna(0)) == [1, 2, 0, 0]
    # below the floor: nothing shown (DDD imports nothing); fewer than top: every hub after
    assert list(exposed_importers(marked.reset_index(), top=9, floor=0.1)["country"]) == [
        "EEE", "EU27", "AAA",
    ]  # fmt: skip


def test_cobalt_importers_are_led_by_consumers_and_the_hub_is_marked() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", riskengine.RiskEngineWarning)  # the data's gaps
        view = score_view(riskengine.load_dataset(), minerals=["cobalt"])
    scores = view.scores.set_index(["stage", "country"])
    nam = scores.loc[("intermediate", "NAM")]
    assert nam["reexport_hub"]
    assert nam["import_share"] >= MAJOR_IMPORTER_SHARE
    assert nam["score"] > scores.loc[("intermediate", "CHN"), "score"]  # it would lead
    shown = view.exposed(10)
    ranked = shown[shown["rank"].notna()]
    assert ranked["country"].iloc[0] == "CHN"
    assert not ranked["reexport_hub"].any()
    assert {"KOR", "BEL", "USA"} <= set(ranked["country"])
    hubs = shown[shown["rank"].isna()]
    assert "NAM" in set(hubs["country"])
    assert shown.index.get_loc(hubs.index[0]) == len(ranked)  # after every ranked importer


def test_the_score_table_marks_hubs_after_the_ranked_importers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "score", "--mineral", "cobalt")
    assert code == 0, err
    rows = out.split("Most exposed importers")[1].splitlines()[3:]
    rows = [r.split() for r in rows if r.strip() and not r.startswith("dataset:")]
    assert rows[0][:4] == ["1", "cobalt", "intermediate", "CHN"]
    namibia = next(r for r in rows if r[3] == "NAM")
    assert namibia[0] == "-"
    assert namibia[-2:] == ["re-export", "hub"]
    assert rows.index(namibia) > max(i for i, r in enumerate(rows) if r[0] != "-")


def test_score_records_carry_the_share_and_the_hub_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "score", "--data", TINY, "-f", "json")
    assert code == 0
    records = [r for r in json.loads(out) if r["country"]]
    deu = next(r for r in records if (r["mineral"], r["stage"], r["country"]) == (
        "cobalt", "mining", "DEU"
    ))  # fmt: skip
    assert deu["import_share"] == pytest.approx(0.6)
    assert deu["reexport_hub"] is False


# ------------------------------------------------------------------ notebooks


def test_results_show_their_tables_and_notes_as_html() -> None:
    ds = riskengine.load_dataset(TINY)
    result = riskengine.score(ds, method="eu", regions=["EU27"])
    html = result._repr_html_()
    assert html.startswith('<div class="riskengine-result"><p><strong>ScoreResult</strong>')
    assert html.count("<table") == 2  # scores and concentration
    assert f"{len(result.scores):,} rows" in html
    assert "no substitution index for copper" in html  # a note of the eu method
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == min(len(result.scores), result.HTML_ROWS)
    marked = riskengine.ScoreResult(
        method="x", dataset="<d>", scores=result.scores, concentration=result.concentration,
        notes=(Note("1 gap <b>", "governance_missing", items=("<b>",)),),
    )  # fmt: skip
    html = marked._repr_html_()
    assert "<b>" not in html
    assert "dataset &lt;d&gt;" in html
    assert "1 supplier(s) without a governance score" in html


def test_scenario_results_show_all_four_tables(tmp_path: Path) -> None:
    ds = riskengine.load_dataset(SCENARIO_DATA)
    result = riskengine.run_scenario(ds, riskengine.load_scenario(SHOCK))
    html = result._repr_html_()
    for name in ("scores", "concentration", "importers", "market"):
        assert f"<code>{name}</code>" in html
    assert html.count("<table") == 4
