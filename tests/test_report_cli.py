"""``riskengine report``: one self-contained HTML file per dossier, and its errors (no browser).

The browser test (tests/test_report_browser.py) draws the files; here their content is read.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main

ROOT = Path(__file__).resolve().parents[1]
STRESS = ROOT / "tests" / "fixtures" / "stress" / "data"
SCENARIO_DATA = ROOT / "tests" / "fixtures" / "scenarios" / "data"
SHOCK = ROOT / "tests" / "fixtures" / "scenarios" / "cobalt_shock.yaml"
FIGURE = re.compile(r'<script type="application/json" id="(fig-\d+)">(.*?)</script>', re.S)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def figures(html: str) -> dict[str, dict]:
    return {ident: json.loads(text) for ident, text in FIGURE.findall(html)}


def assert_self_contained(html: str) -> None:
    assert html.startswith("<!DOCTYPE html>")
    # nothing loaded from elsewhere: no external script, stylesheet, image or frame
    assert not re.search(r"<script[^>]*\ssrc=", html, re.I)
    assert not re.search(r"<link[^>]*\shref=", html, re.I)
    assert not re.search(r"<(img|iframe|object|embed)\b", html, re.I)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", html, re.I)
    # plotly.js inline, once
    assert html.count("plotly.js v") == 1


def test_country_dossier_is_one_self_contained_file(capsys, tmp_path):
    path = tmp_path / "usa.html"
    code, out, err = run(capsys, "report", "--data", STRESS, "--country", "USA", "-o", path)
    assert code == 0, err
    assert out == ""
    assert f"wrote {path} (8 charts" in err
    assert "sweep: 11 of 11 bans evaluated (100 %)" in err  # progress on stderr
    html = path.read_text(encoding="utf-8")
    assert_self_contained(html)
    assert "window.PlotlyGeoAssets = " not in html  # no map, no geometry
    figs = figures(html)
    assert len(figs) == 8 == html.count('<figure class="chart"')
    for fig in figs.values():
        title = fig["layout"]["title"]["text"]
        assert re.search(r"\(.+\), (2024|\d{4}-\d{4})$", title.replace("<br>", " ")), title
        assert "template" not in fig["layout"]  # one template for the page
    # every chart has its table and a source line
    charts = re.findall(r'<figure class="chart".*?</figure>', html, re.S)
    assert all("<table>" in c and "Source: " in c for c in charts)
    # the Sankey carries the ore behind China's refined cobalt: 30 t x 140/165 from DR Congo
    sankey = next(f for f in figs.values() if f["data"][0]["type"] == "sankey")
    nodes = sankey["data"][0]["node"]["label"]
    link = sankey["data"][0]["link"]
    flows = {
        (nodes[s], nodes[t]): v
        for s, t, v in zip(link["source"], link["target"], link["value"], strict=True)
    }
    assert flows[("COD ore/intermediate", "CHN refinery")] == pytest.approx(30 * 140 / 165)
    assert flows[("CHN refinery", "USA")] == pytest.approx(30.0)
    # the largest single-ban exposure: China's refined cobalt
    assert "CHN bans cobalt refining" in html


def test_country_dossier_of_the_eu_has_the_crma_test(capsys, tmp_path):
    path = tmp_path / "eu.html"
    code, _, err = run(capsys, "report", "--data", STRESS, "--country", "EU27", "-o", path,
                       "--no-sweep")  # fmt: skip
    assert code == 0, err
    assert "sweep" not in err
    html = path.read_text(encoding="utf-8")
    assert "Critical Raw Materials Act: the 65 % test" in html
    crma = next(
        f for f in figures(html).values() if "Raw Materials Act" in f["layout"]["title"]["text"]
    )
    assert crma["data"][0]["x"] == [pytest.approx(100.0)]  # China: all of the EU's 25 t
    assert crma["layout"]["shapes"][0]["x0"] == pytest.approx(65.0)


def test_mineral_dossier_inlines_the_map_geometry(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "report", "--data", STRESS, "--mineral", "cobalt")
    assert code == 0, err
    path = tmp_path / "cobalt.html"  # the default name
    html = path.read_text(encoding="utf-8")
    assert_self_contained(html)
    geometry = re.search(
        r"window\.PlotlyGeoAssets = \{topojson: \{world_110m: (\{.*?\})\}\};", html
    )
    assert geometry is not None
    assert geometry.start() < html.index("plotly.js v")  # defined before plotly.js
    assert '"id":"COD"' in geometry.group(1)
    maps = [f for f in figures(html).values() if f["data"][0]["type"] == "choropleth"]
    assert {tuple(m["data"][0]["locations"]) for m in maps} == {
        ("COD", "IDN", "AUS"),  # mines
        ("CHN", "JPN", "AUS", "USA"),  # refineries
    }
    assert [p.name for p in tmp_path.iterdir()] == ["cobalt.html"]  # no temporary file left


def test_scenario_dossier(capsys, tmp_path):
    path = tmp_path / "shock.html"
    code, _, err = run(capsys, "report", "--data", SCENARIO_DATA, "--scenario", SHOCK, "-o", path)
    assert code == 0, err
    html = path.read_text(encoding="utf-8")
    assert_self_contained(html)
    titles = [f["layout"]["title"]["text"] for f in figures(html).values()]
    assert any(t.startswith("Price change while the shock lasts") for t in titles)
    assert any(t.startswith("Shortfall per importer") for t in titles)
    assert any(t.startswith("Scores before and after") for t in titles)
    assert "cover from stocks (days)" in html
    assert "extra cost (USD)" in html


def test_titles_and_tables_are_escaped():
    from riskengine.report.charts import hbar, make_chart
    from riskengine.report.html import Document, Section, render

    evil = "</script><script>alert(1)</script>"
    chart = make_chart(
        hbar(["a"], {"x": [1.0]}, axis_title="t"),
        title=evil, units="t", year="2024", source=evil,
        table=pd.DataFrame({"name": [evil], "t": [float("nan")]}),
    )  # fmt: skip
    html = render(Document(evil, evil, ((evil, evil),), (Section(evil, "s", (evil,), (chart,)),)))
    assert "<script>alert(1)" not in html
    assert html.count("&lt;/script&gt;&lt;script&gt;alert(1)") >= 5
    assert "\\u003c/script>\\u003cscript>alert(1)" in html  # inside the figure's JSON
    assert "<td class=num>–</td>" in html  # NaN shown as a dash


def test_sankey_lumps_the_smallest_nodes_and_keeps_every_tonne():
    from riskengine.report.charts import sankey

    # 14 ore origins feed one refiner (100 t down to 2 t), which sells to JPN
    origins = pd.DataFrame(
        {
            "source": [f"O{i:02d}" for i in range(14)],
            "source_role": "origin",
            "target": "CHN",
            "target_role": "refiner",
            "stage": "refining",
            "content_t": [100.0 - 7 * i for i in range(14)],
        }
    )
    sold = pd.DataFrame(
        [{"source": "CHN", "source_role": "refiner", "target": "JPN", "target_role": "importer",
          "stage": "refining", "content_t": origins["content_t"].sum()}]
    )  # fmt: skip
    fig, lumped = sankey(pd.concat([origins, sold]), names={}, units="t", keep=10)
    trace = fig.data[0]
    labels = list(trace.node.label)
    assert lumped == 4
    assert "other 4 ore/intermediate" in labels
    assert "O09 ore/intermediate" in labels
    assert "O10 ore/intermediate" not in labels
    into = {
        labels[s]: v
        for s, t, v in zip(trace.link.source, trace.link.target, trace.link.value, strict=True)
        if labels[t] == "CHN refinery"
    }
    assert into["other 4 ore/intermediate"] == pytest.approx(30 + 23 + 16 + 9)
    assert sum(into.values()) == pytest.approx(origins["content_t"].sum())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", "XYZ"], "error: unknown country: XYZ. Valid countries: EU27, "),
        (["--mineral", "unobtainium"], "error: unknown mineral: unobtainium. Valid minerals: "),
        (["--scenario", "no-such-scenario"], "error: no-such-scenario: no such file, and no "),
        ([], "error: name one subject: --country CODE (optionally with --mineral), "),
        (["--country", "USA", "--scenario", "x"], "got --country and --scenario"),
        (["--mineral", "cobalt", "--mineral", "copper"], "a mineral dossier covers one mineral"),
        (["--country", "USA", "--year", "1999"], "error: unknown year: 1999. Valid years: 2024"),
        (["--country", "USA", "--mineral", "lithium"], "error: unknown mineral: lithium."),
    ],
)
def test_bad_subject_is_one_line(capsys, tmp_path, args, message):
    code, out, err = run(capsys, "report", "--data", STRESS, *args, "-o", tmp_path / "x.html")
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "x.html").exists()


def test_country_that_imports_none_of_the_minerals(capsys, tmp_path):
    code, _, err = run(capsys, "report", "--data", STRESS, "--country", "COD", "-o",
                       tmp_path / "x.html")  # fmt: skip
    assert code == 1
    assert err == (
        f"error: COD imports none in 2024 in the dataset '{STRESS}'; choose another year "
        "(--year) or mineral\n"
    )


def test_refuses_to_write_over_an_input(capsys, tmp_path):
    shock = tmp_path / "shock.yaml"
    shock.write_text(SHOCK.read_text())
    before = shock.read_text()
    code, _, err = run(capsys, "report", "--data", SCENARIO_DATA, "--scenario", shock, "-o", shock)
    assert code == 1
    assert err == (
        f"error: --output {shock} is {shock}, an input of this command; choose another "
        "output file\n"
    )
    assert shock.read_text() == before
    data = tmp_path / "data"
    data.mkdir()
    for name in ("production.csv", "trade.csv", "governance.csv"):
        (data / name).write_text((STRESS / name).read_text())
    code, _, err = run(capsys, "report", "--data", data, "--mineral", "cobalt", "-o",
                       data / "trade.csv")  # fmt: skip
    assert code == 1
    assert "would overwrite trade.csv of the dataset" in err
    assert (data / "trade.csv").read_text() == (STRESS / "trade.csv").read_text()


def test_unwritable_destination_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "report", "--data", STRESS, "--mineral", "cobalt", "-o",
                       tmp_path / "missing" / "x.html")  # fmt: skip
    assert code == 1
    assert err.startswith(f"error: cannot write {tmp_path / 'missing' / 'x.html'}: ")
    assert err.count("\n") == 1


def test_other_commands_do_not_import_plotly():
    code = (
        "import sys\n"
        "from riskengine.cli import main\n"
        f"assert main(['score', '--data', {str(STRESS)!r}]) == 0\n"
        "assert 'plotly' not in sys.modules, 'plotly imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
