"""`python -m eval COMMAND ...`: evaluation commands.

Each command is a module of `eval/` with `add_arguments(parser)` and
`run(args) -> int` (the exit status); its docstring is its help text.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from xlmr_flax.storage import local_path

PATH_ARGUMENTS = ("checkpoint", "data", "out", "predictions", "labels", "json", "workdir")
COMMANDS = {
    "predict": "predict.files",
    "score": "scoring.command",
    "report": "report",
    "adaptive": "adaptive_command",
}  # name: module


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one sub-command per module in `COMMANDS`."""
    parser = argparse.ArgumentParser(prog="python -m eval", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"eval.{module_name}")
        doc = module.__doc__ or name
        command = commands.add_parser(
            name,
            help=doc.strip().split("\n")[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parses `argv` (default: the command line) and runs the chosen command."""
    args = build_parser().parse_args(argv)
    for name in PATH_ARGUMENTS:
        if getattr(args, name, None):
            try:
                setattr(args, name, local_path(getattr(args, name), f"--{name}"))
            except ValueError as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
