"""Markdown summary of a results JSON: medians, ratios, targets, scaling."""

from __future__ import annotations

from typing import Any


def _s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.1f} ms"
    if seconds >= 1e-6:
        return f"{seconds * 1e6:.1f} µs"
    return f"{seconds * 1e9:.0f} ns"


def _x(ratio: float | None, digits: int = 1) -> str:
    if ratio is None:
        return "–"
    if ratio >= 100:
        return f"{ratio:,.0f}×"
    return f"{ratio:.{digits}f}×"


def _r(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    return f"{ratio:.2g}"


def _b(n: float | None) -> str:
    if n is None:
        return "–"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def _machine(m: dict[str, Any]) -> list[str]:
    mem = _b(m.get("memory_bytes"))
    return [
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['cores_available']} available), "
        f"memory {mem}, transparent huge pages `{m.get('transparent_hugepages')}`",
        f"- {m['platform']}; Python {m['python']}, numpy {m['numpy']} ({m['blas']}), "
        f"pandas {m['pandas']}; BLAS thread settings {m.get('thread_env') or 'default'}",
        f"- load average (1/5/15 min) at start {m.get('load_average_at_start')}, at end "
        f"{m.get('load_average_at_end')}; peak RSS of the run {_b(m.get('max_rss_bytes'))}",
    ]


def _targets(summary: dict[str, Any]) -> list[str]:
    lines = [
        f"Kernel targets are read at the largest size case that ran "
        f"(`{summary.get('reference_case')}`).",
        "",
        "| target | measured | met | missed by |",
        "|---|---|---|---|",
    ]
    for c in summary["checks"]:
        measured = c["measured"]
        if measured is None:
            shown = "–"
        elif "< " in c["target"]:
            shown = _s(measured)
        elif "floor" in c["target"]:
            shown = _x(measured, 2)
        else:
            shown = _x(measured)
        met = {True: "yes", False: "**no**", None: "–"}[c["met"]]
        missed = "" if c["met"] in (True, None) else _x(c.get("missed_by_factor"), 2)
        lines.append(f"| {c['target']} | {shown} | {met} | {missed} |")
    return lines


def _density(cases: list[dict[str, Any]]) -> list[str]:
    rows = [c for c in cases if c["group"] == "density" and c.get("status") == "ok"]
    if not rows:
        return []
    first = rows[0]["shape"]
    names = [e["kernel"] for e in rows[0]["kernels"] if "ratios" in e]
    lines = [
        f"Speed-ups against the baselines as the share of non-zero flows grows "
        f"({first['minerals']} minerals × 2 stages × {first['years']} years × "
        f"{first['countries']}² countries): pandas ÷ riskengine, and loop ÷ riskengine "
        f"per result.",
        "",
        "| non-zero flows | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for c in rows:
        kernels = {e["kernel"]: e for e in c["kernels"]}
        cells = [
            f"{_x(kernels[n]['ratios']['pandas_speedup'])} / "
            f"{_x(kernels[n]['ratios']['loop_speedup_per_result'])}"
            for n in names
        ]
        share = c["trade_nonzero"] / max(c["trade_cells"], 1)
        lines.append(f"| {share:.1%} | " + " | ".join(cells) + " |")
    return [*lines, ""]


def _case_header(c: dict[str, Any]) -> list[str]:
    if c.get("status") != "ok":
        return [f"### {c['name']} — skipped: {c.get('reason')}", ""]
    shape = c["shape"]
    lines = [
        f"### {c['name']}: {shape['minerals']} minerals × {shape['stages']} stages × "
        f"{shape['years']} years × {shape['countries']}² countries ({c['dtype']})",
        "",
        f"{c['description']}. Trade tensor {_b(c['trade_bytes'])}, {c['trade_cells']:,} cells, "
        f"{c['trade_nonzero']:,} non-zero ({c['trade_nonzero'] / max(c['trade_cells'], 1):.2%}). "
        f"Built in {_s(c['build_s'])}; {c['repeats']} timed runs per figure.",
    ]
    for note in c.get("notes", []):
        lines.append(f"Data: {note}.")
    if "long_rows" in c:
        lr = c["long_rows"]
        lines.append(
            f"Long tables for the baselines: {lr['production']:,} production rows, "
            f"{lr['trade']:,} trade rows."
        )
    lines.append("")
    return lines


def _case_table(c: dict[str, Any]) -> list[str]:
    lines = [
        "| kernel | riskengine | peak mem | floor (sum) | ÷ floor | ÷ copy | pandas | "
        "re/pandas | loop per result | re per result | re/loop | agreement |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in c["kernels"]:
        if "riskengine" not in e:
            lines.append(f"| {e['kernel']} | skipped: {e.get('reason')} |" + " |" * 10)
            continue
        re = e["riskengine"]
        row = [
            e["kernel"],
            _s(re["median_s"]),
            _b(re["peak_bytes"]),
            _s(e["floor"]["sum"]["median_s"]),
            _x(e["floor_ratio"]),
            _x(e["copy_floor_ratio"]),
        ]
        base = e.get("baselines")
        if base:
            r = e["ratios"]
            loop = base["loop"]
            agree = max(
                base["pandas"]["agreement"]["max_rel_diff"], loop["agreement"]["max_rel_diff"]
            )
            loop_note = "" if not loop["extrapolated"] else "*"
            row += [
                _s(base["pandas"]["median_s"]),
                _r(r["riskengine_over_pandas"]),
                _s(loop["per_result_s"]) + loop_note,
                _s(r["riskengine_per_result_s"]),
                _r(r["riskengine_over_loop_per_result"]),
                f"{agree:.1e}",
            ]
        else:
            row += ["–"] * 6
        lines.append("| " + " | ".join(row) + " |")
    query = [e for e in c["kernels"] if "baselines" in e and "query_loop" in e.get("baselines", {})]
    lines.append("")
    for e in query:
        q = e["baselines"]["query_loop"]
        lines.append(
            f"GeoPolRisk with one DataFrame query per result (as geopolrisk-py queries SQLite "
            f"per result): {_s(q['per_result_s'])} per result over {q['results_timed']} "
            f"results, riskengine {_x(e['ratios']['query_loop_speedup_per_result'])} faster "
            f"per result."
        )
    if any(e.get("baselines", {}).get("loop", {}).get("extrapolated") for e in c["kernels"]):
        lines.append(
            "\\* the loop ran on evenly spaced (mineral, stage, year) slices and is "
            "extrapolated per result."
        )
    lines.append("")
    return lines


def _loads(loads: list[dict[str, Any]], e2e: list[dict[str, Any]]) -> list[str]:
    lines = ["| what | median | runs |", "|---|---|---|"]
    for row in loads:
        runs = ", ".join(_s(r) for r in row["runs_s"])
        lines.append(f"| {row['what']} | {_s(row['median_s'])} | {runs} |")
    lines.append("")
    if e2e:
        lines += ["| end to end | rows | median | stages (median) |", "|---|---|---|---|"]
        for row in e2e:
            stages = ", ".join(f"{k} {_s(v)}" for k, v in row["stages_median_s"].items())
            lines.append(f"| {row['what']} | {row['rows']:,} | {_s(row['median_s'])} | {stages} |")
        lines.append("")
    return lines


def _scaling(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = [
        "Time / peak memory of each riskengine kernel as one axis grows (the others "
        "fixed). The exponents are the least-squares slopes of log(time) and log(peak "
        "memory) on log(size), next to the one expected from the complexity; – where "
        "fewer than two points take at least 1 ms (or 1 MB), too little to fit above "
        "the fixed overhead of a numpy call.",
        "",
    ]
    by_axis: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_axis.setdefault(row["axis"], []).append(row)
    for axis, items in by_axis.items():
        sizes = [p["size"] for p in items[0]["points"]]
        head = " | ".join(f"{axis}={s}" for s in sizes)
        lines += [
            f"**{axis}**",
            "",
            f"| kernel | complexity | {head} | time exponent (expected) | memory exponent |",
            "|---|---|" + "---|" * len(sizes) + "---|---|",
        ]
        for row in items:
            cells = " | ".join(
                f"{_s(p['median_s'])} / {_b(p['peak_bytes'])}" for p in row["points"]
            )
            cells += " | –" * (len(sizes) - len(row["points"]))
            exp = "–" if row["time_exponent"] is None else f"{row['time_exponent']:.2f}"
            mem = "–" if row["memory_exponent"] is None else f"{row['memory_exponent']:.2f}"
            lines.append(
                f"| {row['kernel']} | {row['complexity']} | {cells} | {exp} "
                f"({row['expected_exponent']}) | {mem} |"
            )
        lines.append("")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """Render a results dictionary (see ``benchmarks/run.py``) as Markdown."""
    lines = [
        f"# riskengine benchmarks ({results['mode']} run, {results['created']})",
        "",
        f"Command: `{results['command'].strip()}`; total {results['elapsed_s']:.0f} s.",
        "",
        *_machine(results["machine"]),
        "",
        "Times are medians of wall-clock runs. Ratios are riskengine ÷ baseline (below 1: "
        "riskengine is faster; the targets ask for ≤ 0.02 against pandas and ≤ 0.001 per "
        "result against the loop); ÷ floor is riskengine ÷ one numpy sum over the tensor the "
        "kernel reads, ÷ copy riskengine ÷ one copy of it (a read and a write).",
        "",
        "## Targets",
        "",
        *_targets(results["summary"]),
        "",
        *_density(results["cases"]),
        "## Kernels and baselines",
        "",
    ]
    for c in results["cases"]:
        if c["group"].startswith("scaling-"):
            continue
        lines += _case_header(c)
        if c.get("status") == "ok":
            lines += _case_table(c)
    lines += ["## Load times and end to end", "", *_loads(results["loads"], results["end_to_end"])]
    lines += ["## Scaling", "", *_scaling(results["scaling"])]
    sc = results.get("scenarios", {})
    lines += ["## Scenarios", "", f"{sc.get('status')}: {sc.get('reason')}", ""]
    return "\n".join(lines)
