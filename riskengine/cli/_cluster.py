"""Options for where a command runs: a Dask cluster, or this machine's cores.

``--scheduler`` and ``--workers`` choose a cluster; ``--jobs`` the cores used without one.

Without a cluster option Dask is not imported; see :mod:`riskengine.cluster`
for what runs where and why the result is the same.
"""

from __future__ import annotations

from typing import Annotated

import typer

SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run on the Dask scheduler at this address (tcp://host:8786); needs "
        'pip install "riskengine[dask]".',
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Run on a local Dask cluster of N worker processes, closed at the end; needs "
        'pip install "riskengine[dask]".',
    ),
]
JobsOpt = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Cores to use without a cluster (default: one per core, at most 4): worker "
        "processes on Linux for long runs, else this process; the result does not depend on it.",
    ),
]
