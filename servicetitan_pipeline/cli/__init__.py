"""`servicetitan-pipeline` command line: check | sync | demo | dev | simulator.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``; modules are imported only when their subcommand runs, so
``servicetitan-pipeline simulator`` does not pay for importing Dagster and dbt. What several
commands share lives beside them, never in a command's module: ``common`` (``--select``,
``--env-file``, the local Dagster instance), ``simulated`` (running against the embedded
simulator: ``demo``, ``dev``), ``runner`` (the sync job in-process: ``sync``, ``demo``, ``dev``)
and ``report`` (what a run did, as text).
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "check": (
        "servicetitan_pipeline.cli.check",
        "test the ServiceTitan connection: token, then one small request per entity",
    ),
    "sync": (
        "servicetitan_pipeline.cli.sync",
        "sync ServiceTitan into DuckDB and build dbt, through Dagster in-process",
    ),
    "demo": (
        "servicetitan_pipeline.cli.demo",
        "run the whole pipeline against the embedded simulator and print a summary",
    ),
    "dev": (
        "servicetitan_pipeline.cli.dev",
        "start the Dagster UI against the embedded simulator",
    ),
    "sql": (
        "servicetitan_pipeline.cli.sql",
        "run SQL on the analysts' copy of the warehouse (read-only; -c SQL, or a shell)",
    ),
    "simulator": (
        "servicetitan_pipeline.simulator.cli",
        "run the embedded ServiceTitan simulator standalone",
    ),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="servicetitan-pipeline",
        description="ServiceTitan -> DuckDB ELT pipeline (Dagster + dbt).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    return int(module.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
