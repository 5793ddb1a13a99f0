"""`riskengine data import | validate | info` on the real-format fixture files."""

import zipfile
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main

FIXTURES = Path(__file__).resolve().parent / "fixtures"
USGS = next((FIXTURES / "usgs" / "mcs2026").glob("*.csv"))
BACI = FIXTURES / "baci" / "release"
WGI = FIXTURES / "wgi" / "WGIData_1996_2022_release2023.csv"


@pytest.fixture
def imported(tmp_path, capsys):
    out = tmp_path / "ds"
    assert main(["data", "import", "usgs-mcs", str(USGS), "--into", str(out)]) == 0
    assert main(["data", "import", "baci", str(BACI), "--into", str(out)]) == 0
    assert main(["data", "import", "wgi", str(WGI), "--into", str(out)]) == 0
    capsys.readouterr()
    return out


def test_import_writes_canonical_tables_that_validate(imported, capsys):
    assert {p.name for p in imported.iterdir()} == {
        "production.csv",
        "trade.csv",
        "governance.csv",
    }
    prod = pd.read_csv(imported / "production.csv")
    assert (prod["unit"] == "t").all()
    assert prod["source"].str.contains("USGS|Geological", regex=True).all()
    assert main(["data", "validate", str(imported)]) == 0
    assert "valid (production" in capsys.readouterr().out


def test_import_merges_and_replace_overwrites(imported, capsys):
    before = len(pd.read_csv(imported / "trade.csv"))
    assert main(["data", "import", "baci", str(BACI), "--into", str(imported)]) == 0
    assert len(pd.read_csv(imported / "trade.csv")) == before  # same keys, no duplicates
    assert main(["data", "import", "usgs-mcs", str(USGS), "--into", str(imported),
                 "--years", "2025", "--replace"]) == 0  # fmt: skip
    assert set(pd.read_csv(imported / "production.csv")["year"]) == {2025}


def test_import_from_file_url_and_zip(tmp_path, capsys):
    archive = tmp_path / "wgi.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(WGI, WGI.name)
    out = tmp_path / "ds"
    code = main(["data", "import", "wgi", archive.resolve().as_uri(), "--into", str(out)])
    assert code == 0, capsys.readouterr().err
    gov = pd.read_csv(out / "governance.csv")
    assert set(gov["indicator"]) <= {"VA", "PV", "GE", "RQ", "RL", "CC"}
    assert len(gov) > 0


def test_info_summarises_coverage(imported, capsys):
    assert main(["data", "info", str(imported)]) == 0
    out = capsys.readouterr().out
    assert "mineral/stage pairs" in out
    assert "production.csv:" in out


def test_info_on_default_dataset(capsys):
    from riskengine.dataset import read_dataset_tables

    tables, _ = read_dataset_tables()
    minerals = set(tables["production"]["mineral"]) | set(tables["trade"]["mineral"])
    assert main(["data", "info"]) == 0
    assert f"{len(minerals)} minerals" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["data", "import", "usgs", "x", "--into", "y"], "unknown source kind: usgs"),
        (["data", "import", "wgi", "/no/such/file.csv", "--into", "y"], "does not exist"),
        (["data", "import", "baci", str(BACI), "--into", "y", "--years", "2024-2018"],
         "--years: cannot read '2024-2018'"),
        (["data", "validate", "/no/such/dir"], "does not exist"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_exit_1(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err


def test_validate_lists_every_problem(tmp_path, capsys):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "production.csv").write_text(
        "mineral,stage,country,year,quantity,unit,source\n"
        "cobalt,mining,COD,2024,-5,t,x\n"
        "cobalt,milling,COD,2024,5,t,x\n"
        "cobalt,mining,ZZZ,2024,5,t,x\n"
    )
    assert main(["data", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "3 problem(s)" in err
    assert "production.csv line 2, column 'quantity'" in err
    assert "line 3, column 'stage'" in err
    assert "line 4, column 'country'" in err


def test_data_check_prints_the_balance_in_contained_tonnes(capsys):
    tiny = FIXTURES / "tiny"
    assert main(["data", "check", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert "world imports / world production, contained tonnes" in out
    # copper mining 2024: 4,300 t of imports against 10,000 t of mine output
    assert any(
        line.split()[:3] == ["copper", "mining", "2024"] and line.split()[-1] == "0.43"
        for line in out.splitlines()
    )
    assert "12 given in contained content" in out


def test_data_check_fails_above_the_limit(tmp_path, capsys):
    import shutil

    target = tmp_path / "tiny"
    shutil.copytree(FIXTURES / "tiny", target)
    with (target / "trade.csv").open("a") as out:
        out.write("cobalt,mining,AUS,JPN,2024,20000,660000000,riskengine test (synthetic)\n")
    assert main(["data", "check", str(target)]) == 1
    captured = capsys.readouterr()
    first = next(line for line in captured.out.splitlines() if line.startswith("cobalt"))
    assert first.split() == ["cobalt", "mining", "2024", "21,000", "10,000", "2.10"]
    assert captured.err.strip().splitlines()[-1] == (
        "error: 1 mineral/stage/year(s) have world imports above 1.6x world production: "
        "check the content fractions and stages of their products (products.csv)"
    )
