"""Error messages: what was expected, what was received, where, and how to fix it.

``tests/fixtures/bad/`` holds broken datasets as a user might write them:
``many_problems`` (13 problems in four files), ``no_production`` (only a trade
table) and ``empty_production`` (an empty ``production.csv``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from riskengine import load_dataset, score
from riskengine.cli import main
from riskengine.dataset import Dataset
from riskengine.errors import CoordinateError, DataError, RiskEngineError, UnknownLabelError
from riskengine.io.canonical import read_tables

ROOT = Path(__file__).resolve().parents[1]
BAD = ROOT / "tests" / "fixtures" / "bad"
TINY = ROOT / "tests" / "fixtures" / "tiny"

#: Every problem of bad/many_problems: (file, line, column, received value, fix).
MANY_PROBLEMS = [
    ("production.csv", 2, "quantity", "-5300", "write a number >= 0"),
    ("production.csv", 3, "stage", "'smelting'", "use 'mining', 'intermediate', 'refining' or"),
    ("production.csv", 4, "country", "'Chile'", "use an ISO 3166-1 alpha-3 code"),
    ("production.csv", 4, "quantity", "'nan'", "leave it empty and give the reason in 'flag'"),
    ("production.csv", 5, "mineral", "'Rare Earths'", "lower-snake-case id"),
    ("production.csv", 6, "quantity", "empty without a reason", "in 'flag'"),
    ("production.csv", 7, "unit", "'lb'", "convert to one of t, kg, kt, Mt"),
    ("trade.csv", 2, "value_usd", "-5", "BACI's thousand-USD values times 1000"),
    ("trade.csv", 3, "importer", "'China'", "use an ISO 3166-1 alpha-3 code"),
    ("trade.csv", 4, "year", "24", "write a four-digit year"),
    ("governance.csv", 2, "indicator", "'PS'", "use one of VA, PV, GE, RQ, RL, CC"),
    ("governance.csv", 3, "value", "7.5", "the EST measure"),
    ("minerals.csv", 2, "eol_rir", "22", "22 % -> 0.22"),
]

WHERE = re.compile(r"^(?P<file>[a-z_]+\.csv) line (?P<line>\d+), column '(?P<column>[a-z_]+)': ")


def test_every_problem_of_every_file_at_once() -> None:
    with pytest.raises(DataError) as info:
        read_tables(BAD / "many_problems")
    problems = info.value.problems
    assert len(problems) == len(MANY_PROBLEMS) == 13
    found = {}
    for problem in problems:
        match = WHERE.match(problem)
        assert match, f"message does not start with file, line and column: {problem}"
        found[(match["file"], int(match["line"]), match["column"])] = problem
    for file, line, column, value, fix in MANY_PROBLEMS:
        message = found[(file, line, column)]
        assert value in message, (value, message)
        assert fix in message, (fix, message)
    assert str(info.value).startswith(
        f"the dataset in {BAD / 'many_problems'} has 13 problem(s):\n  - "
    )


def test_the_cli_shows_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["score", "--data", str(BAD / "many_problems")])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    lines = err.splitlines()
    assert lines[0] == f"error: the dataset in {BAD / 'many_problems'} has 13 problem(s):"
    assert len(lines) == 14
    assert all(line.startswith("  - ") and WHERE.match(line[4:]) for line in lines[1:])
    assert "Traceback" not in err


def test_missing_production_table_names_the_path_and_columns() -> None:
    with pytest.raises(DataError) as info:
        load_dataset(BAD / "no_production")
    assert info.value.problems == [
        f"{BAD / 'no_production'}/production.csv is missing; every dataset needs it "
        f"(columns: mineral, stage, country, year, quantity, unit, source, flag, estimated, "
        f"product)"
    ]


def test_empty_production_file() -> None:
    with pytest.raises(DataError) as info:
        load_dataset(BAD / "empty_production")
    assert info.value.problems == [
        "production.csv: the file is empty; it needs a header line (mineral, stage, country, "
        "year, quantity, unit, source, flag, estimated, product)"
    ]


def test_one_message_per_unknown_value_listing_its_lines(tmp_path: Path) -> None:
    rows = [f"copper,mining,Peru,{year},100,t,src" for year in range(2001, 2013)]
    (tmp_path / "production.csv").write_text(
        "mineral,stage,country,year,quantity,unit,source\n" + "\n".join(rows) + "\n"
    )
    with pytest.raises(DataError) as info:
        read_tables(tmp_path)
    assert info.value.problems == [
        "production.csv line 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 ..., column 'country': unknown "
        "value 'Peru' (use an ISO 3166-1 alpha-3 code (CHN, COD, JPN) or XOT for 'other "
        "countries')"
    ]


def test_long_problem_lists_are_cut_in_the_message_but_kept_whole(tmp_path: Path) -> None:
    rows = [f"copper,mining,CHL,{year},-1,t,src" for year in range(1941, 2001)]
    (tmp_path / "production.csv").write_text(
        "mineral,stage,country,year,quantity,unit,source\n" + "\n".join(rows) + "\n"
    )
    with pytest.raises(DataError) as info:
        read_tables(tmp_path)
    assert len(info.value.problems) == 60
    text = str(info.value)
    assert text.count("\n  - ") == 50
    assert text.endswith("\n  ... and 10 more problems")
    assert "line 61, column 'quantity'" in info.value.problems[-1]


def test_unknown_label_message() -> None:
    error = UnknownLabelError("mineral", ["gold"], ["cobalt", "copper"])
    assert str(error) == "unknown mineral: gold. Valid minerals: cobalt, copper."
    many = UnknownLabelError("year", [1800], range(1900, 2000))
    assert str(many).endswith(", 1959, ... (100 in all).")
    assert many.unknown == ["1800"]
    assert isinstance(many, RiskEngineError)


def test_coordinate_error_message() -> None:
    error = CoordinateError("stockpiles", "country", ["USA"], ["JPN", "KOR"])
    assert str(error) == (
        "stockpiles does not match the dataset's country coordinates (extra country labels "
        "not in the dataset: USA; missing country labels: JPN, KOR). Reindex it on the "
        "dataset's country index before passing it."
    )


def test_method_without_trade_says_what_to_add() -> None:
    tables = read_tables(TINY)
    no_trade = Dataset.from_tables({"production": tables["production"]}, name="mine output")
    with pytest.raises(DataError) as info:
        score(no_trade, method="geopolrisk")
    assert str(info.value) == (
        "method 'geopolrisk' needs bilateral trade, but the dataset 'mine output' has no "
        "trade.csv; add one (see docs/data-format.md) or use a dataset with trade"
    )


def test_unknown_method_parameter() -> None:
    ds = load_dataset(TINY)
    with pytest.raises(RiskEngineError) as info:
        score(ds, method="eu", restrictions={"CHN": 1.2})
    assert str(info.value).startswith("method 'eu': ")
    assert "unexpected keyword argument 'restrictions'" in str(info.value)


def test_missing_governance_error_says_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "tiny"
    shutil.copytree(TINY, path)
    gov = path / "governance.csv"
    gov.write_text("".join(ln for ln in gov.read_text().splitlines(True) if "PER," not in ln))
    ds = load_dataset(path)
    with pytest.raises(DataError) as info:
        score(ds, method="riskengine", missing_governance="raise")
    assert str(info.value) == (
        "no WGI political stability (PV) for 1 countries that the computation needs: PER. "
        "Add their WGI estimates to governance.csv, or pass missing_governance='nan' "
        "(results using them become NaN) or a number to use for them"
    )


def test_header_only_production_is_one_line_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "production.csv").write_text(
        "mineral,stage,country,year,quantity,unit,source\n", encoding="utf-8"
    )
    code = main(["score", "--data", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 1
    assert out == ""
    assert err.splitlines() == [
        f"error: the dataset in {tmp_path} has 1 problem(s):",
        "  - production.csv: the table has a header but no rows; a dataset needs at least one "
        "production row (mineral, stage, country, year, quantity, unit, source)",
    ]


def test_a_shifted_row_is_one_problem_in_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copy(TINY / "production.csv", tmp_path / "production.csv")
    with (tmp_path / "production.csv").open("a", encoding="utf-8") as fh:
        fh.write("cobalt,mining,CHN,2024,5,t,probe,,,surplus\n")
    lines = (tmp_path / "production.csv").read_text(encoding="utf-8").splitlines()
    code = main(["score", "--data", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 1
    assert err.splitlines()[1:] == [
        f"  - production.csv line {len(lines)}: 10 fields where the header has 9; quote cells "
        "that contain commas, or remove the extra field"
    ]
    assert "Traceback" not in err


def test_bad_arguments_share_one_template() -> None:
    ds = load_dataset(TINY, cache=False)
    with pytest.raises(RiskEngineError) as info:
        score(ds, minerals=("cobalt", None))
    assert str(info.value) == (
        "method 'riskengine': minerals must be a string or a list of strings, got "
        "('cobalt', None) (tuple); write minerals='cobalt' or minerals=['cobalt', 'lithium']"
    )
