"""Benchmark ``riskengine sensitivity`` on the default data and write ``results/sensitivity.json``.

Usage (from the repository root)::

    python -m benchmarks.bench_sensitivity            # every mineral, scored country USA
    python -m benchmarks.bench_sensitivity --quick    # five minerals, fewer repeats

Measured on the default data's latest year, every ratio within the run:

* **closed form vs re-scoring** - :func:`riskengine.sensitivity` for the USA
  (the composite: one run of it, weights in closed form, the other inputs by
  updating the sums they enter), against scoring the same variants'
  perturbed copies with the composite itself, 64 copies per call laid on the
  year axis: the previous implementation, which GeoPolRisk and the EU method
  still use. Inputs: governance, production, flows, content fractions (the
  re-scoring path has no composite weights); timed alternately, the speed-up
  is the median of the pairwise ratios.
* **closed form vs loop** - :func:`riskengine.score` on the perturbed dataset
  (the year and the mineral selected), one copy at a time, for a seeded
  sample of the table's rows of every kind (weights included), extrapolated
  to every copy the closed form accounts for (two per variant).
* **the command** - ``riskengine sensitivity -c USA`` as a process, against
  ``riskengine score -c USA``, alternated, with Python's bytecode cache on
  (as an installed package has it); the target is under 2 s.

Before any time is reported the results must agree: every row of the
re-scoring path equals the closed form's (same rows; scores within 1e-12 of
the score), and every sampled loop score equals the closed form's. A
mismatch stops the run with :class:`AgreementError`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import riskengine
from benchmarks.measure import (
    bytecode_env,
    load_average,
    machine,
    max_rss_bytes,
    time_call,
    time_pair,
    time_process_pair,
    write_results,
)
from riskengine.dataset import Dataset
from riskengine.methods.composite import DEFAULT_WEIGHTS
from riskengine.stress import sensitivities as sens
from riskengine.stress._common import year_tensors

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
QUICK_MINERALS = ["cobalt", "copper", "lithium", "natural_graphite", "rare_earths"]
COUNTRY = "USA"
#: Timed runs (closed form), paired runs (closed form vs re-scoring), process pairs.
REPEATS = {"full": (7, 2, 5), "quick": (3, 1, 1)}
#: Rows of the table re-scored one copy at a time (per kind).
LOOP_SAMPLE = {"full": 8, "quick": 2}
#: The ``riskengine sensitivity -c USA`` target, in seconds of wall time.
TARGET_S = 2.0
SEED = 20240601
KEY = ["mineral", "stage", "country", "kind", "input", "input_stage"]
RESCORED_KINDS = ("governance", "production", "flow", "content")


class AgreementError(AssertionError):
    """The closed form and a re-scoring baseline disagree."""


def rescored(ds: Dataset, minerals: list[str], kinds: tuple[str, ...]) -> pd.DataFrame:
    """Return the table of the re-scoring path: every perturbed copy scored by the composite."""
    job = sens._Job(
        yt=year_tensors(ds, ds.latest_year()),
        stages=[str(s) for s in ds.stages],
        target=[COUNTRY],
        perturbed=[COUNTRY],
        method="riskengine",
        step=sens.DEFAULT_STEP,
        kinds=frozenset(kinds),
        params={},
        seen=set(),
    )
    parts = [sens._rescored_part(job, m, sens.DEFAULT_CHUNK) for m in minerals]
    return sens._table([p for p in parts if p is not None])


def agree(closed: pd.DataFrame, other: pd.DataFrame, what: str) -> float:
    """Largest disagreement of two tables relative to the tolerance; raise above 1."""
    a = closed.set_index(KEY)
    b = other.set_index(KEY)
    if len(a) != len(b) or not a.index.sort_values().equals(b.index.sort_values()):
        raise AgreementError(
            f"{what}: {len(a.index.difference(b.index))} rows only in the closed form, "
            f"{len(b.index.difference(a.index))} only in the baseline"
        )
    b = b.loc[a.index]
    tolerance = 1e-12 * np.abs(b["score"].to_numpy(dtype=float)) + 1e-15
    worst = 0.0
    for column in ("score", "score_low", "score_high", "swing"):
        x, y = a[column].to_numpy(dtype=float), b[column].to_numpy(dtype=float)
        if (np.isnan(x) != np.isnan(y)).any():
            raise AgreementError(f"{what}: NaN in other places ({column})")
        ok = ~np.isnan(y)
        worst = max(worst, float(np.max(np.abs(x[ok] - y[ok]) / tolerance[ok], initial=0.0)))
    if worst > 1:
        raise AgreementError(f"{what}: scores differ ({worst:.3g} x tolerance)")
    return worst


def _perturbed(sub: Dataset, row: pd.Series, side: str) -> tuple[Dataset, dict[str, Any]]:
    """Return the mineral's dataset with the row's input at its low or high value, and params."""
    value = float(row[f"input_{side}"])
    factor = 1 - sens.DEFAULT_STEP if side == "low" else 1 + sens.DEFAULT_STEP
    c = sub.countries
    if row["kind"] == "parameter":
        return sub, {"weights": {str(row["input"]).removeprefix("weight "): value}}
    if row["kind"] == "content":
        fractions = sub.products["content"].to_numpy(dtype=float).copy()
        fractions[sub.products["product"].tolist().index(row["input"])] = value
        return sub.with_content(fractions), {}
    if row["kind"] == "governance":
        gov = sub.governance.copy()
        i = c.get_loc(row["input"])
        gov[:, :, i] = 2.5 - (2.5 - gov[:, :, i]) * factor
        return sub.replace_arrays(governance=gov), {}
    s = int(sub.positions("stage", [row["input_stage"]])[0])
    if row["kind"] == "production":
        prod = sub.production.copy()
        prod[0, s, 0, c.get_loc(row["input"])] *= factor
        return sub.replace_arrays(production=prod), {}
    e, i = sub.positions("country", str(row["input"]).split("->"))
    flows = sub.trade_array()
    flows[0, s, 0, e, i] *= factor
    return sub.replace_arrays(trade=flows, trade_value=flows), {}


def loop_sample(ds: Dataset, table: pd.DataFrame, per_kind: int) -> dict[str, Any]:
    """Score a seeded sample of rows' copies one at a time; check them; time the scoring."""
    rng = np.random.default_rng(SEED)
    rows = [np.flatnonzero(table["kind"] == kind) for kind in sens.INPUT_KINDS]
    picks = [rng.choice(r, size=min(per_kind, len(r)), replace=False) for r in rows]
    spent = 0.0
    copies = 0
    worst = 0.0
    for _, row in table.iloc[np.concatenate(picks)].iterrows():
        sub = ds.sel(minerals=[row["mineral"]])
        for side in ("low", "high"):
            changed, params = _perturbed(sub, row, side)
            start = time.perf_counter()
            frame = riskengine.score(changed, method="riskengine", **params).scores
            spent += time.perf_counter() - start
            copies += 1
            hit = frame[(frame["stage"] == row["stage"]) & (frame["country"] == COUNTRY)]
            want = float(hit["score"].iloc[0])
            err = abs(want - row[f"score_{side}"]) / (1e-12 * abs(want) + 1e-15)
            if err > 1:
                raise AgreementError(f"loop: {row['kind']} {row['input']} ({side}) differs")
            worst = max(worst, err)
    return {"copies": copies, "s_per_copy": spent / copies, "worst_over_tolerance": worst}


def count_copies(ds: Dataset, table: pd.DataFrame) -> int:
    """Count the copies the closed form accounts for: two per variant of the USA's minerals."""
    yt = year_tensors(ds, ds.latest_year())
    job = sens._Job(
        yt=yt,
        stages=[str(s) for s in ds.stages],
        target=[COUNTRY],
        perturbed=[COUNTRY],
        method="riskengine",
        step=sens.DEFAULT_STEP,
        kinds=frozenset(sens.INPUT_KINDS),
        params={},
        seen=set(),
    )
    governance = yt.dataset.governance_at(yt.year)[0]
    n = 0
    for mineral in table["mineral"].unique():
        block = yt.block(str(mineral))
        n += len(sens._enumerate(job, block, governance[:, block.idx]))
        n += len(DEFAULT_WEIGHTS)
    return 2 * n


def bench(ds: Dataset, mode: str, minerals: list[str]) -> dict[str, Any]:
    """Time the closed form against re-scoring and the loop, with agreement checked first."""
    n_closed, n_pairs, _ = REPEATS[mode]

    def closed() -> pd.DataFrame:
        return riskengine.sensitivity(ds, minerals=minerals, countries=[COUNTRY]).table

    def closed_same() -> pd.DataFrame:
        return riskengine.sensitivity(
            ds, minerals=minerals, countries=[COUNTRY], inputs=RESCORED_KINDS
        ).table

    table = closed()
    worst = agree(closed_same(), rescored(ds, minerals, RESCORED_KINDS), "re-scoring")
    timing = time_call(closed, n_closed)
    pair = time_pair(closed_same, lambda: rescored(ds, minerals, RESCORED_KINDS), n_pairs)
    loop = loop_sample(ds, table, LOOP_SAMPLE[mode])
    copies = count_copies(ds, table)
    loop_all = loop["s_per_copy"] * copies
    return {
        "name": f"sensitivity-{COUNTRY}",
        "minerals": len(minerals),
        "rows": len(table),
        "copies": copies,
        "closed_form": timing.to_dict(),
        "rescored": {
            "inputs": list(RESCORED_KINDS),
            "closed_form": pair.a.to_dict(),
            "rescored": pair.b.to_dict(),
            "speedup": pair.to_dict(),
            "agreement_worst_over_tolerance": worst,
        },
        "loop": {
            **loop,
            "s_extrapolated": loop_all,
            "speedup": loop_all / timing.median,
        },
    }


def cli() -> list[str]:
    """Return the ``riskengine`` command of this environment."""
    script = Path(sys.executable).with_name("riskengine")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from riskengine.cli import entry_point; entry_point()"]


def bench_command(mode: str) -> dict[str, Any]:
    """``riskengine sensitivity -c USA`` against ``riskengine score -c USA``, as processes."""
    *_, repeats = REPEATS[mode]
    sens_argv = [*cli(), "sensitivity", "-c", COUNTRY]
    score_argv = [*cli(), "score", "-c", COUNTRY]
    with tempfile.TemporaryDirectory() as tmp:
        env = bytecode_env(Path(tmp))
        pair = time_process_pair(score_argv, sens_argv, repeats, cwd=ROOT, env=env)
    return {
        "command": f"riskengine sensitivity -c {COUNTRY}",
        "baseline": f"riskengine score -c {COUNTRY}",
        "sensitivity": pair.b.to_dict(),
        "score": pair.a.to_dict(),
        "ratio": pair.to_dict(),
        "target_s": TARGET_S,
        "met": pair.b.median < TARGET_S,
    }


def markdown(doc: dict[str, Any]) -> str:
    """Short Markdown summary of a run."""
    b = doc["sensitivity"]
    r = b["rescored"]
    lines = [
        f"# riskengine sensitivity benchmark ({doc['mode']})",
        "",
        f"{doc['machine']['cpu']}, {doc['machine']['cores']} cores; {doc['dataset']}",
        "",
        "| case | minerals | rows | copies | closed form s | re-scored s (same inputs) "
        "| speed-up | loop s (extrapolated) | speed-up |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| {b['name']} | {b['minerals']} | {b['rows']:,} | {b['copies']:,} "
        f"| {b['closed_form']['median_s']:.2f} | {r['rescored']['median_s']:.1f} "
        f"| {r['speedup']['median']:.0f}x | {b['loop']['s_extrapolated']:.0f} "
        f"| {b['loop']['speedup']:.0f}x |",
    ]
    c = doc.get("command")
    if c:
        lines += [
            "",
            "| command | wall s (median) | baseline | wall s | ratio | target |",
            "|---|---|---|---|---|---|",
            f"| `{c['command']}` | {c['sensitivity']['median_s']:.2f} | `{c['baseline']}` "
            f"| {c['score']['median_s']:.2f} | {c['ratio']['median']:.2f} "
            f"| < {c['target_s']:g} s: {'met' if c['met'] else 'missed'} |",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write ``results/sensitivity.json`` and print a summary."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_sensitivity")
    parser.add_argument("--quick", action="store_true", help="five minerals, fewer repeats")
    parser.add_argument("--out", type=Path, default=RESULTS, help="output directory")
    parser.add_argument("--no-processes", action="store_true", help="skip the command's runs")
    args = parser.parse_args(argv)
    mode = "quick" if args.quick else "full"
    host = machine()  # with the load average before the run
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = riskengine.load_dataset()
        year = ds.latest_year()
        ds = ds.sel(years=[year])
        minerals = QUICK_MINERALS if args.quick else [str(m) for m in ds.minerals]
        result = bench(ds, mode, minerals)
    doc: dict[str, Any] = {
        "mode": mode,
        "started": started,
        "dataset": f"{ds.name}, year {year}",
        "machine": host,
        "sensitivity": result,
    }
    if not args.no_processes:
        doc["command"] = bench_command(mode)
    doc["load_average_at_end"] = load_average()
    doc["max_rss_bytes"] = max_rss_bytes()
    stem = "sensitivity" if mode == "full" else "sensitivity-quick"
    path = write_results(args.out, stem, doc, None)
    print(markdown(doc))
    print(f"\nwrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
