"""Hostile inputs end in one ``error:`` line and exit code 1, quickly and in bounded memory.

YAML alias bombs, huge and deeply nested YAML, duplicate keys (scenario and
``--model`` files), zip bombs and zip slip, endless and silent HTTP servers
(on 127.0.0.1 only).
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from riskengine.cli import main
from riskengine.errors import DataError, RiskEngineError, ScenarioError
from riskengine.io.bounded import YAML_MAX_BYTES, extract_zip, load_yaml
from riskengine.scenarios import parse_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO_DATA = ROOT / "tests" / "fixtures" / "scenarios" / "data"
STRESS_DATA = ROOT / "tests" / "fixtures" / "stress" / "data"

#: The "billion laughs": 9 levels of 9 aliases, 9**9 strings once expanded; 342 bytes.
ALIAS_BOMB = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8)
)


def run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, list[str]]:
    """Run the CLI; return the exit code and the stderr lines."""
    start = time.monotonic()
    code = main([str(a) for a in args])
    assert time.monotonic() - start < 30
    _, err = capsys.readouterr()
    return code, err.splitlines()


def one_error(capsys: pytest.CaptureFixture[str], *args: object) -> str:
    code, lines = run(capsys, *args)
    assert code == 1, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ")
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------- YAML
def test_alias_bomb_scenario(capsys, tmp_path):
    file = write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    line = one_error(capsys, "scenario", "run", file, "--data", SCENARIO_DATA)
    assert f"{file}:" in line
    assert "more than 100,000 nodes" in line


def test_alias_bomb_model(capsys, tmp_path):
    file = write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    line = one_error(capsys, "simulate", "--data", STRESS_DATA, "--model", file, "-n", "10")
    assert f"{file}:" in line
    assert "aliases counted" in line


def test_alias_bomb_memory_in_a_subprocess(tmp_path):
    file = write(tmp_path / "bomb.yaml", ALIAS_BOMB)
    code = (
        "import resource, sys\n"
        "from riskengine.cli import main\n"
        f"rc = main(['scenario', 'run', {str(file)!r}, '--data', {str(SCENARIO_DATA)!r}])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    peak_kib = int(proc.stdout.split()[-1])  # kilobytes on Linux
    assert peak_kib < 1 << 20  # under 1 GB


def test_moderate_aliases_are_allowed():
    data, lines = load_yaml("base: &b {x: 1}\ncopy: *b\n", "t.yaml")
    assert data == {"base": {"x": 1}, "copy": {"x": 1}}
    assert lines[("copy",)] == 2


def test_recursive_alias_is_refused():
    with pytest.raises(RiskEngineError, match=r"^t\.yaml:1: alias \*a refers to a node"):
        load_yaml("a: &a [1, *a]\n", "t.yaml")


def test_ten_megabyte_yaml(capsys, tmp_path):
    file = write(tmp_path / "big.yaml", "# padding\n" * (1 << 20))
    assert file.stat().st_size > 10_000_000
    line = one_error(capsys, "scenario", "run", file, "--data", SCENARIO_DATA)
    assert f"{file}: the scenario file is larger than {YAML_MAX_BYTES:,} bytes" in line
    line = one_error(capsys, "simulate", "--data", STRESS_DATA, "--model", file, "-n", "10")
    assert f"{file}: the disruption model is larger than" in line


def test_text_size_cap():
    with pytest.raises(ScenarioError, match="larger than"):
        parse_scenario("x" * (YAML_MAX_BYTES + 1), "big.yaml")


@pytest.mark.parametrize("depth", [100, 1000, 100_000])
def test_deep_nesting(capsys, tmp_path, depth):
    file = write(tmp_path / "deep.yaml", "a: " + "[" * depth + "]" * depth + "\n")
    line = one_error(capsys, "scenario", "run", file, "--data", SCENARIO_DATA)
    assert line == f"error: {file}:1: nesting deeper than 64 levels; flatten the document"
    line = one_error(capsys, "simulate", "--data", STRESS_DATA, "--model", file, "-n", "10")
    assert "nesting deeper than 64 levels" in line


def test_duplicate_key_in_scenario(capsys, tmp_path):
    file = write(
        tmp_path / "dup.yaml",
        "name: x\nname: y\ndescription: d\nyear: 2024\nsources: [s]\nshocks: []\n",
    )
    line = one_error(capsys, "scenario", "run", file, "--data", SCENARIO_DATA)
    assert line == (f"error: {file}:2: name: duplicate key (first on line 1); keep only one")


def test_duplicate_key_in_model(capsys, tmp_path):
    file = write(
        tmp_path / "model.yaml",
        "severity:\n  distribution: fixed\n  value: 0.5\n  value: 0.9\n",
    )
    line = one_error(capsys, "simulate", "--data", STRESS_DATA, "--model", file, "-n", "10")
    assert line == (
        f"error: {file}:4: severity.value: duplicate key (first on line 3); keep only one"
    )


def test_python_tags_are_refused():
    with pytest.raises(RiskEngineError, match=r"^t\.yaml:1: invalid YAML: could not determine"):
        load_yaml("a: !!python/object/apply:os.system [echo]\n", "t.yaml")


# ------------------------------------------------------------------------ zip
def test_zip_bomb(capsys, tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("wgi.csv", b"\0" * (20 << 20))  # 20 MB of zeros, about 20 kB packed
    assert archive.stat().st_size < 100_000
    line = one_error(capsys, "data", "import", "wgi", archive, "--into", tmp_path / "out")
    assert f"{archive}: member 'wgi.csv' expands" in line
    assert "zip bomb" in line


def test_zip_total_cap(capsys, tmp_path, monkeypatch):
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("wgi.csv", b"x" * 5000)
    monkeypatch.setenv("RISKENGINE_MAX_UNZIPPED_BYTES", "1000")
    line = one_error(capsys, "data", "import", "wgi", archive, "--into", tmp_path / "out")
    assert "above the cap of 1,000; raise RISKENGINE_MAX_UNZIPPED_BYTES" in line


def test_zip_slip(tmp_path):
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../escaped.csv", "a,b\n")
    with pytest.raises(DataError, match="outside the extraction directory"):
        extract_zip(archive, tmp_path / "x" / "out")
    assert not (tmp_path / "x" / "escaped.csv").exists()
    assert not (tmp_path / "x" / "out").exists()


# ----------------------------------------------------------------------- HTTP
class _Endless(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        chunk = b"x" * 65536
        try:
            while True:
                self.wfile.write(chunk)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endless_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Endless)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/wgi.zip"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections (the kernel completes them) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/wgi.zip"
    finally:
        sock.close()


def test_endless_http_body(capsys, tmp_path, monkeypatch, endless_server):
    monkeypatch.setenv("RISKENGINE_MAX_DOWNLOAD_BYTES", "1000000")
    line = one_error(capsys, "data", "import", "wgi", endless_server, "--into", tmp_path / "o")
    assert line == (
        f"error: cannot download {endless_server}: it is larger than the cap of 1,000,000 "
        f"bytes; raise RISKENGINE_MAX_DOWNLOAD_BYTES if the file is expected to be that large"
    )
    assert not (tmp_path / "o").exists()


def test_silent_http_server(capsys, tmp_path, monkeypatch, silent_server):
    monkeypatch.setenv("RISKENGINE_DOWNLOAD_TIMEOUT", "0.5")
    start = time.monotonic()
    line = one_error(capsys, "data", "import", "wgi", silent_server, "--into", tmp_path / "o")
    assert time.monotonic() - start < 5
    assert f"cannot download {silent_server}: no answer within 0.5 s" in line


def test_bad_limit_setting(capsys, tmp_path, monkeypatch, silent_server):
    monkeypatch.setenv("RISKENGINE_DOWNLOAD_TIMEOUT", "soon")
    line = one_error(capsys, "data", "import", "wgi", silent_server, "--into", tmp_path / "o")
    assert "RISKENGINE_DOWNLOAD_TIMEOUT='soon' is not a number" in line


def test_sigterm_removes_the_partial_download(tmp_path, endless_server):
    """A SIGTERM during a download ends with exit 1, one line, and no file left behind."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    code = (
        "import os, signal, sys, threading\n"
        "from pathlib import Path\n"
        "from riskengine.cli.data import fetch\n"
        "from riskengine.errors import RiskEngineError\n"
        "threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM)).start()\n"
        "try:\n"
        f"    fetch({endless_server!r}, Path({str(workdir)!r}))\n"
        "except RiskEngineError as exc:\n"
        "    print(f'error: {exc}', file=sys.stderr)\n"
        "    sys.exit(1)\n"
    )
    env = {"RISKENGINE_MAX_DOWNLOAD_BYTES": str(1 << 40), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().endswith("interrupted by signal SIGTERM"), proc.stderr
    assert list(workdir.iterdir()) == []
