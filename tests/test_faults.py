"""Fault injection: imports and writes killed at any point lose nothing, hang nothing.

Each killed or failed import must leave its dataset as it was before or as a
clean import leaves it, never partial (once a reader has rolled a pending
commit forward); two writers at once serialise on the dataset lock; an
output path onto an input and an import that empties a table are refused
with one line.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from riskengine.cli import main
from riskengine.io import atomic
from riskengine.io.atomic import JOURNAL_FILE, check_output, dataset_lock
from riskengine.io.canonical import read_tables, write_table

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "fixtures" / "tiny"
BACI = ROOT / "tests" / "fixtures" / "baci" / "release"
USGS = next((ROOT / "tests" / "fixtures" / "usgs" / "mcs2026").glob("*.csv"))
SCENARIO_DATA = ROOT / "tests" / "fixtures" / "scenarios" / "data"
SHOCK = ROOT / "tests" / "fixtures" / "scenarios" / "cobalt_shock.yaml"
STRESS_DATA = ROOT / "tests" / "fixtures" / "stress" / "data"

#: Runs the CLI; RISKENGINE_FAULT="replace:3" kills the process (SIGKILL) at the
#: third call of os.replace, "fsync:2:int" raises KeyboardInterrupt there instead,
#: "fsync:2:term" sends it SIGTERM.
DRIVER = """
import os, signal, sys
fault = os.environ.get("RISKENGINE_FAULT")
if fault:
    name, nth, *how = fault.split(":")
    original, calls = getattr(os, name), [0]
    def patched(*args, **kwargs):
        calls[0] += 1
        if calls[0] == int(nth):
            if how == ["int"]:
                raise KeyboardInterrupt
            os.kill(os.getpid(), signal.SIGTERM if how == ["term"] else signal.SIGKILL)
        return original(*args, **kwargs)
    setattr(os, name, patched)
from riskengine.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _command(*args: object) -> list[str]:
    return [sys.executable, "-c", DRIVER, *map(str, args)]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "RISKENGINE_LOCK_TIMEOUT": "20", **extra}


def _tables(directory: Path) -> dict[str, bytes]:
    """The dataset as a reader sees it: its visible files and their bytes."""
    return {p.name: p.read_bytes() for p in directory.iterdir() if not p.name.startswith(".")}


@pytest.fixture(scope="module")
def states(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], dict]:
    """A source changing every table of TINY (and its form), the tables before and after."""
    base = tmp_path_factory.mktemp("faults")
    source = base / "source"
    shutil.copytree(TINY, source)
    for name, column in (("production", "value"), ("trade", "quantity")):
        table = pd.read_csv(source / f"{name}.csv")
        if column in table.columns:
            table[column] = table[column] * 2
        table.to_csv(source / f"{name}.csv", index=False)
    clean = base / "clean"
    shutil.copytree(TINY, clean)
    assert main(_import_args(source, clean)) == 0
    before, after = _tables(TINY), _tables(clean)
    assert before != after
    assert set(after) == {f"{n}.gz" for n in before}
    return source, before, after


def _import_args(source: Path, into: Path) -> list[str]:
    return [
        "data",
        "import",
        "canonical",
        str(source),
        "--into",
        str(into),
        "--replace",
        "--compress",
    ]


def _check_recovers(target: Path, before: dict[str, bytes], after: dict[str, bytes]) -> None:
    """A reader sees before or after; the next import leaves after and no leftovers."""
    read_tables(target)  # rolls a pending commit forward
    assert not (target / JOURNAL_FILE).exists()
    assert _tables(target) in (before, after)


FAULTS = [
    *(f"replace:{n}" for n in range(1, 6)),
    *(f"fsync:{n}" for n in (1, 4, 5, 6, 8)),
    *(f"unlink:{n}" for n in (1, 2, 4, 5)),
    "replace:3:int",
    "fsync:2:int",
]


@pytest.mark.parametrize("fault", FAULTS)
def test_import_killed_at_a_write_step_leaves_before_or_after(states, tmp_path, fault):
    source, before, after = states
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)
    proc = subprocess.run(
        _command(*_import_args(source, target)),
        env=_env(RISKENGINE_FAULT=fault),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in proc.stderr or proc.returncode < 0
    _check_recovers(target, before, after)
    assert main(_import_args(source, target)) == 0
    assert _tables(target) == after
    assert [p.name for p in target.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("fault", ["fsync:1:term", "replace:3:term"])
def test_sigterm_during_an_import_is_one_line_and_leaves_before_or_after(states, tmp_path, fault):
    source, before, after = states
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)
    proc = subprocess.run(
        _command(*_import_args(source, target)),
        env=_env(RISKENGINE_FAULT=fault),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: the canonical import interrupted by signal SIGTERM"
    ]
    _check_recovers(target, before, after)


@pytest.mark.parametrize("trial", range(4))
def test_import_killed_at_a_random_time_leaves_before_or_after(states, tmp_path, trial):
    source, before, after = states
    rng = random.Random(trial)
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)
    proc = subprocess.Popen(
        _command(*_import_args(source, target)),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(rng.uniform(0.2, 0.6))
    proc.send_signal(rng.choice([signal.SIGKILL, signal.SIGINT]))
    proc.wait(timeout=30)
    _check_recovers(target, before, after)


def test_os_replace_failing_after_the_commit_point_is_finished_by_the_next_reader(
    states, tmp_path, monkeypatch, capsys
):
    source, _, after = states
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)
    original, calls = os.replace, [0]

    def failing(*args: object) -> None:
        calls[0] += 1
        if calls[0] == 2:  # the journal is in place; the first table's rename fails
            raise OSError(28, "No space left on device")
        original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", failing)
    assert main(_import_args(source, target)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "the next riskengine command" in err[0]
    monkeypatch.setattr(os, "replace", original)
    assert (target / JOURNAL_FILE).exists()
    read_tables(target)
    assert _tables(target) == after


def test_os_replace_failing_before_the_commit_point_changes_nothing(
    states, tmp_path, monkeypatch, capsys
):
    source, before, _ = states
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)

    def failing(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing)
    assert main(_import_args(source, target)) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "nothing was changed" in err[0]
    assert _tables(target) == before
    assert [p.name for p in target.iterdir() if p.name.startswith(".")] == []


def test_atomic_write_keeps_the_target_on_interrupt(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def interrupted() -> None:
        with atomic.atomic_write(target) as out:
            out.write("partial")
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    assert target.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [target]


def test_write_table_removes_the_other_form(tmp_path):
    table = pd.read_csv(TINY / "minerals.csv")
    write_table(table, tmp_path, "minerals")
    write_table(table, tmp_path, "minerals", compress=True)
    assert [p.name for p in tmp_path.iterdir()] == ["minerals.csv.gz"]
    write_table(table, tmp_path, "minerals")
    assert [p.name for p in tmp_path.iterdir()] == ["minerals.csv"]


# ---------------------------------------------------------------- two writers
def _baci(target: Path, year: int, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command("data", "import", "baci", BACI, "--into", target, "--years", year, *extra),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("compress", [False, True])
def test_two_concurrent_imports_keep_both(tmp_path, compress):
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)
    (target / "trade.csv").unlink()
    first = _baci(target, 2021)
    second = _baci(target, 2022, *(["--compress"] if compress else []))
    for proc in (first, second):
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    trades = [p.name for p in target.iterdir() if p.name.startswith("trade")]
    assert len(trades) == 1
    assert set(read_tables(target)["trade"]["year"]) == {2021, 2022}


def test_a_writer_waiting_too_long_fails_with_the_lock_message(tmp_path):
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)
    with dataset_lock(target):
        proc = subprocess.run(
            _command("data", "import", "baci", BACI, "--into", target),
            env=_env(RISKENGINE_LOCK_TIMEOUT="0.3"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: {target} is being written by another riskengine process (pid {os.getpid()}); "
        f"wait for it to finish, or remove {target / '.riskengine.lock'} if no import is running"
    )
    assert _tables(target) == _tables(TINY)
    assert not (target / ".riskengine.lock").exists()


# ---------------------------------------------------------------- the probes
def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(
    ("data", "args"),
    [
        (TINY, ["score", "--data", "{d}", "-f", "csv"]),
        (STRESS_DATA, ["simulate", "--data", "{d}", "--n", "10", "--seed", "1", "-f", "csv"]),
        (SCENARIO_DATA, ["scenario", "run", str(SHOCK), "--data", "{d}", "-f", "csv"]),
    ],
)
def test_output_onto_an_input_is_refused(tmp_path, capsys, data, args):
    copy = tmp_path / "ds"
    shutil.copytree(data, copy)
    target = next(copy.glob("production.csv*"))
    before = target.read_bytes()
    argv = [a.format(d=copy) for a in args]
    assert main([*argv, "-o", str(target)]) == 1
    assert "would overwrite production.csv" in _one_error_line(capsys)
    assert target.read_bytes() == before
    # through a symbolic link too
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert main([*argv, "-o", str(link)]) == 1
    _one_error_line(capsys)
    assert target.read_bytes() == before


def test_output_onto_the_scenario_file_is_refused(tmp_path):
    shock = tmp_path / "shock.yaml"
    shutil.copy(SHOCK, shock)
    with pytest.raises(atomic.RiskEngineError, match="an input of this command"):
        check_output(tmp_path / "." / "shock.yaml", [SCENARIO_DATA, shock])
    check_output(tmp_path / "result.csv", [SCENARIO_DATA, shock])


def test_output_elsewhere_is_written_whole(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", "--data", str(TINY), "-f", "csv", "-o", str(out)]) == 0
    assert out.read_text().startswith("mineral,")
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]


def test_import_emptying_a_required_table_is_refused(tmp_path, capsys):
    target = tmp_path / "ds"
    shutil.copytree(TINY, target)
    args = ["data", "import", "usgs-mcs", str(USGS), "--into", str(target)]
    assert main([*args, "--replace", "--years", "1990"]) == 1
    line = _one_error_line(capsys)
    assert "leaves production" in line
    assert "nothing was written" in line
    assert _tables(target) == _tables(TINY)
    assert main(["data", "validate", str(target)]) == 0
