"""Smoke test of the benchmark suite: it runs, writes its results, and its baselines agree.

No timing is asserted: CI machines differ. What is asserted is that the quick
mode runs end to end on tiny cases, writes the JSON and Markdown results, that
every baseline agrees numerically with riskengine, that a wrong kernel is
caught, and that the runs from CSV files in fresh processes report their
figures.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import baselines as bl  # noqa: E402
from benchmarks import world  # noqa: E402
from benchmarks.cases import Case, long_tables, synthetic_case  # noqa: E402
from benchmarks.kernels import KERNELS, geopolrisk_score, production_hhi  # noqa: E402
from benchmarks.measure import bytecode_env  # noqa: E402
from benchmarks.run import (  # noqa: E402
    AgreementError,
    Config,
    check,
    importtime,
    run_kernel,
)

BASELINE_KERNELS = ("production_hhi", "import_mix", "import_hhi", "geopolrisk")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.run",
            "--quick",
            "--only",
            "toy",
            "--only",
            "small",
            "--repeats",
            "1",
            "--no-processes",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, json.loads((out / "quick.json").read_text())


def test_quick_run_writes_json_and_markdown(quick_run: tuple[Path, dict]) -> None:
    out, results = quick_run
    md = (out / "quick.md").read_text()
    assert md.startswith("# riskengine benchmarks (quick run")
    assert "| geopolrisk |" in md
    assert "## Trade kernels against pandas" in md
    assert results["mode"] == "quick"
    assert results["machine"]["cores"] >= 1
    assert [c["name"] for c in results["cases"]] == ["toy", "small"]
    assert all(c["status"] == "ok" for c in results["cases"])


def test_every_baseline_agrees_with_riskengine(quick_run: tuple[Path, dict]) -> None:
    _, results = quick_run
    for case in results["cases"]:
        kernels = {e["kernel"]: e for e in case["kernels"]}
        for name in BASELINE_KERNELS:
            base = kernels[name]["baselines"]
            for kind in ("pandas", "loop"):
                agreement = base[kind]["agreement"]
                assert agreement["compared"] > 0, (case["name"], name, kind)
                assert agreement["max_rel_diff"] < 1e-9, (case["name"], name, kind)
        for name in ("import_mix", "import_hhi"):
            keyed = kernels[name]["keyed"]["pandas"]["agreement"]
            assert keyed["compared"] > 0
            assert keyed["max_rel_diff"] < 1e-9
        query = kernels["geopolrisk"]["baselines"]["query_loop"]["agreement"]
        assert query["compared"] > 0
        assert query["max_rel_diff"] < 1e-9
        # a missing PV score reaches some GeoPolRisk results: NaN agreement is exercised
        assert kernels["geopolrisk"]["baselines"]["pandas"]["agreement"]["nan"] > 0


def test_results_carry_ratios_and_targets(quick_run: tuple[Path, dict]) -> None:
    _, results = quick_run
    small = next(c for c in results["cases"] if c["name"] == "small")
    geo = next(e for e in small["kernels"] if e["kernel"] == "geopolrisk")
    assert geo["ratios"]["pandas_speedup"] > 0
    assert len(geo["pandas_speedup"]["runs"]) == 1
    assert geo["ratios"]["loop_speedup_per_result"] > 0
    assert geo["floor_ratio"] > 0
    assert {m["method"] for m in small["methods"]} == {"geopolrisk", "riskengine"}
    assert results["summary"]["reference_case"] == "small"
    assert any("geopolrisk" in c["target"] for c in results["summary"]["checks"])


def test_a_wrong_kernel_is_caught() -> None:
    data = synthetic_case(2, 12, 2, 0.3, seed=3)
    tables = long_tables(data)
    keyed = bl.with_cells(tables.trade)
    cfg = Config("quick", 1, Path("."), None, False)
    hhi = next(k for k in KERNELS if k.name == "production_hhi")
    run_kernel(hhi, data, tables, keyed, cfg, 1)
    wrong = dataclasses.replace(hhi, make=lambda d: lambda: production_hhi(d) * (1 + 1e-6))
    with pytest.raises(AgreementError):
        run_kernel(wrong, data, tables, keyed, cfg, 1)

    def filled(d: object) -> np.ndarray:
        score = geopolrisk_score(data)
        score[np.isnan(score)] = 0.0  # a kernel that fills missing governance with 0
        return score

    geo = next(k for k in KERNELS if k.name == "geopolrisk")
    with pytest.raises(AgreementError, match="NaN"):
        run_kernel(dataclasses.replace(geo, make=lambda d: lambda: filled(d)), data, tables,
                   keyed, cfg, 1)  # fmt: skip
    with pytest.raises(AgreementError):
        check("k", "b", np.array([1.0, 2.0]), np.array([1.0, 2.1]), 1e-9)


def test_baselines_reproduce_methods_test_vectors() -> None:
    # docs/methods.md shares 40/30/20/10 % -> HHI 3000; 4: numerator 1000, imports 2000,
    # own production 500, HHI 0.3 -> ImportRisk 0.4, Score 0.12.
    production = pd.DataFrame(
        {
            "mineral": ["a"] * 4 + ["x"] * 7,
            "stage": ["mining"] * 10 + ["refining"],
            "year": [2020] * 11,
            "country": ["C1", "C2", "C3", "C4", "P1", "P2", "P3", "P4", "P5", "P6", "IMP"],
            "quantity": [40.0, 30, 20, 10, 50, 10, 10, 10, 10, 10, 500],
        }
    )
    trade = pd.DataFrame(
        {
            "mineral": ["x", "x"],
            "stage": ["refining", "refining"],
            "year": [2020, 2020],
            "exporter": ["RISKY", "SAFE"],
            "importer": ["IMP", "IMP"],
            "quantity": [1000.0, 1000.0],
        }
    )
    governance = pd.DataFrame(
        {"year": [2020, 2020], "country": ["RISKY", "SAFE"], "pv": [-2.5, 2.5]}
    )
    hhi = bl.pandas_hhi(production)
    assert hhi[("a", "mining", 2020)] * 10_000 == pytest.approx(3000.0)
    assert hhi[("x", "mining", 2020)] == pytest.approx(0.3)
    geo = bl.pandas_geopolrisk(production, trade, governance).set_index(bl.IMPORTER)
    row = geo.xs(("x", "refining", 2020, "IMP"))
    assert row["import_risk"] == pytest.approx(0.4)
    assert row["score"] == pytest.approx(0.12)
    index = bl.group_rows(production, trade, governance)
    key = ("x", "refining", 2020, "IMP")
    assert bl.loop_geopolrisk(index, [key])[key] == pytest.approx(0.12)
    assert bl.query_geopolrisk(production, trade, governance, [key])[key] == pytest.approx(0.12)
    # the residual "other countries" row counts in the total, not in the squares
    residual = production.assign(country=production["country"].replace({"C4": "XOT"}))
    assert bl.pandas_hhi(residual)[("a", "mining", 2020)] == pytest.approx(0.29)


def test_runs_from_csv_files_in_processes_report_their_figures() -> None:
    record = world.run(Case("toy-csv", "synthetic", "e2e", 2, 12, 2), repeats=1)
    assert set(record["files"]) == {"production.csv", "trade.csv", "governance.csv"}
    assert record["flows"] == record["files"]["trade.csv"]["rows"]
    assert record["rows"]["geopolrisk"] > 0
    assert record["rows"]["riskengine"] > 0
    assert record["cache_bytes"] > 0
    for kind in ("cold", "warm"):
        summary = record["summary"][kind]
        assert summary["wall_s"] > 0
        assert summary["peak_rss_bytes"] > 0
        assert set(summary["stages_s"]) == {"import", "load_dataset", "geopolrisk", "riskengine"}


def test_importtime_lists_top_level_modules(tmp_path: Path) -> None:
    found = importtime([sys.executable, "-c", "import json"], bytecode_env(tmp_path))
    assert "json" in {m["module"] for m in found["modules"]}
    assert found["total_s"] > 0
