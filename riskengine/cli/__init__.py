"""The ``riskengine`` command line; the only code that imports typer.

Every command turns :class:`~riskengine.errors.RiskEngineError` into one line on
stderr and exit code 1. Commands that report results gather data-gap warnings
and print them once, one ``note:`` line per kind (:mod:`riskengine.cli._output`);
other warnings are shown as ``warning:`` lines.
"""

from __future__ import annotations

import sys
import warnings

import typer

from riskengine.errors import RiskEngineError

#: Top-level commands and groups -> (module, attribute, is a group).
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "score": ("riskengine.cli.score", "score_command", False),
    "data": ("riskengine.cli.data", "data_app", True),
    "scenario": ("riskengine.cli.scenario", "scenario_app", True),
    "sweep": ("riskengine.cli.stress", "sweep_command", False),
    "simulate": ("riskengine.cli.stress", "simulate_command", False),
    "sensitivity": ("riskengine.cli.stress", "sensitivity_command", False),
    "backtest": ("riskengine.cli.backtest", "backtest_command", False),
    "report": ("riskengine.cli.report", "report_command", False),
}

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


_REGISTERED: set[str] = set()


def _register(names: list[str]) -> None:
    """Add the named commands to :data:`app`, once each (typer builds each from its signature)."""
    import importlib

    for name in names:
        if name in _REGISTERED:
            continue
        _REGISTERED.add(name)
        module, attribute, group = COMMANDS[name]
        target = getattr(importlib.import_module(module), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name=name)(target)


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


#: Exit code of a command stopped by Ctrl-C (128 + SIGINT, the shell's convention).
INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code: 0 ok, 1 user error, 2 usage error, 130 Ctrl-C."""
    warnings.showwarning = _show_warning
    args = sys.argv[1:] if argv is None else argv
    # building a command from its signature costs start-up time: only the command
    # run is built; the whole tree for the root's help, --version or a typo
    command = next((a for a in args if not a.startswith("-")), None)
    _register([command] if command in COMMANDS else list(COMMANDS))
    try:
        app(args=args, prog_name="riskengine")
    except SystemExit as exc:
        code = exc.code
        if code == INTERRUPTED:  # Ctrl-C: outputs are written whole or not at all
            print("interrupted", file=sys.stderr)
        return code if isinstance(code, int) else (0 if code is None else 1)
    except RiskEngineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
