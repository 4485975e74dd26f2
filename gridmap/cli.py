"""The `gridmap` command. Each subcommand lives beside the code it drives and is imported lazily,
so `gridmap --help` stays fast and a broken optional part cannot break the others.

Exit codes: 0 success, 1 a quality failure the command reports, 2 bad input (one message per
problem naming file, row/feature and field; never a traceback).
"""

from __future__ import annotations

import importlib
import sys

import click

from gridmap.errors import InputError

# name -> "module:attribute" of a click.Command; help text shown without importing the module.
COMMANDS: dict[str, tuple[str, str]] = {
    "sample": ("gridmap.sample.cli:sample", "Build a deterministic sample city to demo on."),
    "validate": ("gridmap.validate:validate", "Check input files and list every problem at once."),
    "partition": (
        "gridmap.partition.cli:partition",
        "Divide communities into comprehensive and exclusive grids.",
    ),
    "assign": ("gridmap.geocode.cli:assign", "Put every standard address on exactly one grid."),
    "geocode": ("gridmap.geocode.cli:geocode", "Match free-text addresses to the address library."),
    "publish": ("gridmap.store.cli:publish", "Store a grid version for the map; make it current."),
    "serve": ("web.cli:serve", "Serve the one map and its API."),
    "token": ("gridmap.store.cli:token", "Create, list and revoke API tokens."),
    "incidents": ("gridmap.store.cli:incidents", "Incident data: load simulated incidents."),
    "export-tiles": (
        "gridmap.tiles.pmtiles:export_tiles",
        "Write a grid version's vector tiles into one .pmtiles file.",
    ),
    "taxonomy": ("gridmap.taxonomy.cli:taxonomy", "Incident taxonomy: load a city's, show it."),
    "department": ("gridmap.loop_cli:department", "Departments: add, list, issue tokens."),
    "staff": ("gridmap.loop_cli:staff", "Grid staff: import a roster, issue field tokens."),
    "escalate": ("gridmap.loop_cli:escalate", "Escalate incidents past their time limits."),
    "demo-roster": (
        "gridmap.sample.roster:demo_roster",
        "Write made-up staff and departments for a published city (demo data).",
    ),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module_name), attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, text) for name, (_, text) in COMMANDS.items()])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gridmap")
def cli() -> None:
    """Grid division, address geocoding and one map for city-level grid governance."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: turns InputError into one clear message per problem and exit code 2."""
    try:
        cli.main(args=argv, prog_name="gridmap", standalone_mode=False)
    except InputError as error:
        for problem in error.problems:
            click.echo(f"error: {problem}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(2 if isinstance(error, click.UsageError | click.BadParameter) else error.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)


if __name__ == "__main__":
    main()
