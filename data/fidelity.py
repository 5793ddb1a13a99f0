"""Write ``docs/fidelity.md``: the default data against the publishers' own figures.

Run from the repository root with the releases in ``../shared/data`` (or pass
their directory)::

    python data/fidelity.py [RELEASES_DIR]

The report (:func:`riskengine.fidelity.build_report`) compares the embedded
default dataset with the USGS MCS 2026 US net import reliance, the IEA Critical
Minerals Data Explorer's top-1/top-3 shares and the published destination
shares of Peru's copper. It is deterministic: ``tests/test_fidelity.py``
regenerates it and checks that the committed file is current.
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import riskengine
from riskengine.dataset import RiskEngineWarning
from riskengine.fidelity import build_report

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "fidelity.md"


def main(releases: Path) -> None:
    """Regenerate :data:`REPORT` from the default data and the releases."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RiskEngineWarning)  # findings the report itself shows
        ds = riskengine.load_dataset()
    text = build_report(ds, releases)
    fd, tmp = tempfile.mkstemp(dir=REPORT.parent, prefix=".fidelity-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, REPORT)
    print(f"wrote {REPORT.relative_to(ROOT)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
