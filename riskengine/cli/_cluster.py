"""Options of the commands that can run on a Dask cluster: ``--scheduler`` and ``--workers``.

Without either a command runs in one process and Dask is not imported; see
:mod:`riskengine.cluster` for what runs where and why the result is the same.
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
