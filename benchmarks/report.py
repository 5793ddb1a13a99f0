"""Markdown summary of a results JSON: targets, end to end, start-up, kernels, scaling."""

from __future__ import annotations

from typing import Any

TRADE = ("import_mix", "import_hhi", "geopolrisk")


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


def _source(src: dict[str, Any] | None) -> list[str]:
    if not src:
        return []
    modified = src.get("modified") or []
    changes = f"; modified in the tree: {', '.join(modified)}" if modified else ""
    return [f"- source: commit {src.get('commit')}{changes}"]


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return _s(value)
    if unit == "bytes":
        return _b(value)
    return _x(value, 3 if value < 2 else 2)


def _targets(summary: dict[str, Any]) -> list[str]:
    lines = [
        "| target | measured | met | missed by |",
        "|---|---|---|---|",
    ]
    for c in summary["checks"]:
        met = {True: "yes", False: "**no**", None: "–"}[c["met"]]
        factor = c.get("missed_by_factor")
        missed = "" if c["met"] in (True, None) else _x(factor, 3 if factor < 1.1 else 2)
        lines.append(f"| {c['target']} | {_shown(c['measured'], c['unit'])} | {met} | {missed} |")
    return lines


def _world(w: dict[str, Any] | None) -> list[str]:
    if not w:
        return ["Not run (`--only` or `--no-processes`).", ""]
    files = ", ".join(
        f"`{name}` {f['rows']:,} rows ({_b(f['bytes'])})" for name, f in w["files"].items()
    )
    lines = [
        f"Case `{w['case']}` ({w['description']}): {w['flows']:,} flows, {w['years']} years "
        f"scored. Written as canonical CSV files in {_s(w['write_s'])} (not timed): {files}; "
        f"binary cache {_b(w['cache_bytes'])}. Each run is a fresh process: "
        f"`riskengine.load_dataset(dir)`, then `riskengine.score(ds, method=...)` for "
        f"`geopolrisk` ({w['rows']['geopolrisk']:,} rows) and `riskengine` "
        f"({w['rows']['riskengine']:,} rows). Medians of {w['repeats']} runs each, cold and "
        f"warm alternated; peak memory is the largest resident set of any run.",
        "",
        "| run | process wall | import | load_dataset | geopolrisk | riskengine | peak RSS |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, label in (("cold", "cold (empty cache dir, from the CSV files)"), ("warm", "warm")):
        s = w["summary"][kind]
        st = s["stages_s"]
        lines.append(
            f"| {label} | {_s(s['wall_s'])} | {_s(st['import'])} | {_s(st['load_dataset'])} | "
            f"{_s(st['geopolrisk'])} | {_s(st['riskengine'])} | {_b(s['peak_rss_bytes'])} |"
        )
    runs = "; ".join(
        f"{kind} " + ", ".join(_s(r["wall_s"]) for r in items) for kind, items in w["runs"].items()
    )
    lines += ["", f"Every run (process wall): {runs}.", ""]
    return lines


def _startup(st: dict[str, Any] | None) -> list[str]:
    if not st:
        return ["Not run (`--only` or `--no-processes`).", ""]
    ratio = st["ratio"]
    lines = [
        f"`{st['command']}` on the default data against `{st['baseline']}`, both as processes, "
        f"alternated, {len(ratio['runs'])} pairs after one untimed run of each; Python bytecode "
        f"{st['bytecode']}.",
        "",
        "| process | median | min | max |",
        "|---|---|---|---|",
        f"| {st['command']} | {_s(st['score']['median_s'])} | {_s(st['score']['min_s'])} | "
        f"{_s(st['score']['max_s'])} |",
        f"| {st['baseline']} | {_s(st['import_numpy_pandas']['median_s'])} | "
        f"{_s(st['import_numpy_pandas']['min_s'])} | {_s(st['import_numpy_pandas']['max_s'])} |",
    ]
    for o in st["others"]:
        lines.append(f"| {o['what']} | {_s(o['median_s'])} | {_s(o['min_s'])} | {_s(o['max_s'])} |")
    lines += [
        "",
        f"Ratio (median of the pairs): **{ratio['median']:.2f}×** "
        f"(pairs {min(ratio['runs']):.2f}–{max(ratio['runs']):.2f}).",
        "",
    ]
    raw = st.get("without_bytecode")
    if raw:
        lines += [
            f"Without a bytecode cache (`PYTHONDONTWRITEBYTECODE` set, as in this environment's "
            f"source checkout: riskengine's modules compiled on every start): "
            f"`{st['command']}` {_s(raw['score']['median_s'])}, `{st['baseline']}` "
            f"{_s(raw['import_numpy_pandas']['median_s'])}, ratio "
            f"**{raw['ratio']['median']:.2f}×**.",
            "",
        ]
    lines += [
        f"Imports of `{st['command']}` run after `import numpy, pandas` (`python -X "
        f"importtime`, one run, top-level modules by cumulative time, including those a "
        f"command imports when it runs): {_s(st['importtime']['total_s'])} in all, "
        f"{_s(st['importtime'].get('beyond_numpy_pandas_s'))} beyond numpy and pandas.",
        "",
        "| module | cumulative |",
        "|---|---|",
    ]
    for m in st["importtime"]["modules"]:
        lines.append(f"| `{m['module']}` | {_s(m['cumulative_s'])} |")
    lines.append("")
    return lines


def _trade_summary(cases: list[dict[str, Any]]) -> list[str]:
    rows = [
        c
        for c in cases
        if c.get("status") == "ok" and any("pandas_speedup" in e for e in c["kernels"])
    ]
    if not rows:
        return []
    lines = [
        "riskengine vs pandas, and pandas ÷ riskengine (median of the alternated pairs), "
        "riskengine's kernel with its cell keys computed on each call as the methods do; in "
        "brackets, both given the importer cells beforehand (riskengine a key array, pandas "
        "one categorical column); *bound* is pandas ÷ the kernel's floor, the most that a "
        "kernel which only read its inputs once could gain over pandas.",
        "",
        "| case | flows | density | " + " | ".join(TRADE) + " |",
        "|---|---|---|" + "---|" * len(TRADE),
    ]
    for c in rows:
        kernels = {e["kernel"]: e for e in c["kernels"]}
        cells = []
        for name in TRADE:
            e = kernels[name]
            text = (
                f"{_s(e['riskengine']['median_s'])} vs {_s(e['baselines']['pandas']['median_s'])}"
                f": **{_x(e['pandas_speedup']['median'])}**"
            )
            if "keyed" in e:
                text += f" ({_x(e['keyed']['pandas_speedup']['median'])})"
            bound = e["baselines"]["pandas"]["median_s"] / e["floor"]["median_s"]
            cells.append(f"{text}; bound {_x(bound)}")
        density = c["flows"] / max(c["pair_cells"], 1)
        lines.append(
            f"| {c['name']} | {c['flows']:,} | {density:.2%} | " + " | ".join(cells) + " |"
        )
    return [*lines, ""]


def _case_header(c: dict[str, Any]) -> list[str]:
    if c.get("status") != "ok":
        return [f"### {c['name']} — skipped: {c.get('reason')}", ""]
    shape = c["shape"]
    lines = [
        f"### {c['name']}: {shape['minerals']} minerals × {shape['stages']} stages × "
        f"{shape['years']} years × {shape['countries']} countries",
        "",
        f"{c['description']}. {c['flows']:,} flows ({c['flows_with_quantity']:,} with a "
        f"quantity) in {c['pair_cells']:,} exporter × importer cells of the slices with trade "
        f"({c['flows'] / max(c['pair_cells'], 1):.2%}); flow arrays {_b(c['flow_bytes'])}. "
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
        "| kernel | riskengine | peak mem | floor | ÷ floor | pandas | pandas ÷ re | "
        "cells given: re / pandas / ratio | loop per result | re per result | "
        "loop ÷ re | agreement |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for e in c["kernels"]:
        re = e["riskengine"]
        row = [
            e["kernel"],
            _s(re["median_s"]),
            _b(re["peak_bytes"]),
            _s(e["floor"]["median_s"]),
            _x(e["floor_ratio"]),
        ]
        base = e.get("baselines")
        if base:
            r = e["ratios"]
            loop = base["loop"]
            agree = max(
                base["pandas"]["agreement"]["max_rel_diff"], loop["agreement"]["max_rel_diff"]
            )
            keyed = e.get("keyed")
            keyed_text = (
                f"{_s(keyed['riskengine']['median_s'])} / {_s(keyed['pandas']['median_s'])} / "
                f"{_x(keyed['pandas_speedup']['median'])}"
                if keyed
                else "–"
            )
            row += [
                _s(base["pandas"]["median_s"]),
                _x(r["pandas_speedup"]),
                keyed_text,
                _s(loop["per_result_s"]) + ("*" if loop["extrapolated"] else ""),
                _s(r["riskengine_per_result_s"]),
                _x(r["loop_speedup_per_result"]),
                f"{agree:.1e}",
            ]
        else:
            row += ["–"] * 7
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for e in c["kernels"]:
        q = e.get("baselines", {}).get("query_loop")
        if q:
            lines.append(
                f"GeoPolRisk with one DataFrame query per result (as geopolrisk-py queries "
                f"SQLite per result): {_s(q['per_result_s'])} per result over "
                f"{q['results_timed']} results, riskengine "
                f"{_x(e['ratios']['query_loop_speedup_per_result'])} faster per result."
            )
    if any(e.get("baselines", {}).get("loop", {}).get("extrapolated") for e in c["kernels"]):
        lines.append(
            "\\* the loop ran on evenly spaced (mineral, stage, year) slices and is "
            "extrapolated per result."
        )
    if c.get("methods"):
        whole = "; ".join(
            f"`{m['method']}` {_s(m['median_s'])} ({m['rows']:,} rows, {_s(m['per_row_s'])} a row)"
            for m in c["methods"]
        )
        lines.append(f"Whole methods in-process (`riskengine.score`, labelled result): {whole}.")
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
        "Time / peak memory of each riskengine kernel as one axis grows (the others fixed, "
        "density fixed, so the flows grow with the square of the countries). The exponents "
        "are the least-squares slopes of log(time) and log(peak memory) on log(size), next "
        "to the one expected from the number of flows; – where fewer than two points take "
        "at least 1 ms (or 1 MB), too little to fit above the fixed overhead of a numpy call.",
        "",
    ]
    by_axis: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_axis.setdefault(row["axis"], []).append(row)
    for axis, items in by_axis.items():
        points = items[0]["points"]
        head = " | ".join(f"{axis}={p['size']} ({p['flows']:,} flows)" for p in points)
        lines += [
            f"**{axis}**",
            "",
            f"| kernel | complexity | {head} | time exponent (expected) | memory exponent |",
            "|---|---|" + "---|" * len(points) + "---|---|",
        ]
        for row in items:
            cells = " | ".join(
                f"{_s(p['median_s'])} / {_b(p['peak_bytes'])}" for p in row["points"]
            )
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
        *_source(results.get("source")),
        "",
        "Times are medians of wall-clock runs. riskengine and pandas are timed alternately in "
        "one process and their ratio is the median of the pairs' ratios; ÷ floor is "
        "riskengine ÷ one numpy sum over each array the kernel reads (plus a copy of the "
        "flows for a kernel that writes one value per flow).",
        "",
        "## Targets",
        "",
        *_targets(results["summary"]),
        "",
        "## World scale from CSV files, in fresh processes",
        "",
        *_world(results.get("world")),
        "## Start-up",
        "",
        *_startup(results.get("startup")),
        "## Trade kernels against pandas",
        "",
        *_trade_summary(results["cases"]),
        "## Kernels and baselines",
        "",
    ]
    for c in results["cases"]:
        if c["group"].startswith("scaling-"):
            continue
        lines += _case_header(c)
        if c.get("status") == "ok":
            lines += _case_table(c)
    lines += ["## Load times and end to end in-process", ""]
    lines += _loads(results["loads"], results["end_to_end"])
    lines += ["## Scaling", "", *_scaling(results["scaling"])]
    return "\n".join(lines)
