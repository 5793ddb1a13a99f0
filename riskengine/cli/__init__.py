"""The ``riskengine`` command line; the only code that imports typer.

Every command turns :class:`~riskengine.errors.RiskEngineError` into one line on
stderr and exit code 1, and shows data-gap warnings as ``warning:`` lines.
"""

from __future__ import annotations

import sys
import warnings

import typer

from riskengine.cli.data import data_app
from riskengine.cli.scenario import scenario_app
from riskengine.cli.score import score_command
from riskengine.cli.stress import sensitivity_command, simulate_command, sweep_command
from riskengine.errors import RiskEngineError

app = typer.Typer(
    name="riskengine",
    help=(
        "Supply-chain risk of critical minerals: concentration, import reliance, "
        "upstream dependency, GeoPolRisk, EU supply risk."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command(name="score")(score_command)
app.add_typer(data_app, name="data")
app.add_typer(scenario_app, name="scenario")
app.command(name="sweep")(sweep_command)
app.command(name="simulate")(simulate_command)
app.command(name="sensitivity")(sensitivity_command)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Score the supply-chain risk of critical minerals."""
    if version:
        from riskengine import __version__

        typer.echo(__version__)
        raise typer.Exit()


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 user error, 2 usage error."""
    warnings.showwarning = _show_warning
    try:
        app(args=argv, prog_name="riskengine")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except RiskEngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
