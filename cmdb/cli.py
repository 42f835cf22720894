"""The `cmdb` command: serve, demo, import, impact, show, schema and token."""

from __future__ import annotations

import json
import logging
import sqlite3
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from cmdb.cli_changes import change_app, history, parse_instant
from cmdb.cli_discovery import discover, render_switch_ports, start_periodic_discovery, switch_ports
from cmdb.copy import copy_command
from cmdb.impact import ImpactReport, ImpactRequest, ImpactState, Mode, analyze
from cmdb.impact.priority import PriorityMatrix
from cmdb.model import ChangeContext, CIRecord, Direction, Origin, describe_validation_error
from cmdb.render import render_ci, render_impact, render_matches
from cmdb.settings import Settings
from cmdb.store import missing_sqlite_file, open_store, redact_url
from cmdb.store.base import CINotFoundError, GraphStore, StoreError

logger = logging.getLogger(__name__)

app = typer.Typer(help="Clinical CMDB: a hospital's configuration items as a graph, and impact analysis.")
token_app = typer.Typer(help="API tokens.")
app.add_typer(token_app, name="token")
app.add_typer(change_app, name="change")
app.command("history")(history)
app.command("discover")(discover)

console = Console()
errors = Console(stderr=True)

StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Store URL (sqlite:///PATH or neo4j://HOST:PORT); default CMDB_STORE."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _settings(store_url: str | None) -> Settings:
    try:
        settings = Settings()
    except ValidationError as error:
        for line in describe_validation_error(error):
            field, _, problem = line.partition(":")
            errors.print(f"[red]invalid setting CMDB_{field.upper()}:{problem}[/]")
        errors.print("[red]fix the CMDB_* environment variables named above[/]")
        raise typer.Exit(1) from None
    if store_url:
        settings = settings.model_copy(update={"store": store_url})
    return settings


def _sqlite_path(url: str) -> Path | None:
    return Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None


def _open(settings: Settings, *, must_exist: bool = False) -> GraphStore:
    """Open the configured store; with ``must_exist``, refuse to create a new SQLite file."""
    shown = redact_url(settings.store)
    if must_exist and missing_sqlite_file(settings.store):
        errors.print(
            f"[red]store {shown} does not exist; check --store or CMDB_STORE, or import data first[/]"
        )
        raise typer.Exit(1)
    try:
        return open_store(settings.store)
    except (ValueError, StoreError, OSError, sqlite3.Error) as error:
        errors.print(f"[red]cannot open store {shown}: {error}[/]")
        raise typer.Exit(1) from None


def _cli_context() -> ChangeContext:
    import getpass

    return ChangeContext(actor=f"cli:{getpass.getuser()}", origin=Origin.CLI)


def _resolve(store: GraphStore, text: str) -> CIRecord:
    """Find the one CI that ``text`` names by key, name, serial, MAC or IP; exit 1 or 2 otherwise."""
    direct = store.get_ci(text)
    if direct is not None:
        return direct
    matches = store.find_cis(text)
    if not matches:
        errors.print(f"[red]no CI matches {text!r}; give a key, name, serial, MAC or IP address[/]")
        raise typer.Exit(1)
    if len(matches) > 1:
        render_matches(errors, text, matches)
        raise typer.Exit(2)
    return matches[0]


def _parse_assignment(text: str, option: str) -> tuple[str, str]:
    ci, separator, value = text.rpartition("=")
    if not separator or not ci or not value:
        errors.print(f"[red]invalid {option} {text!r}; write CI=VALUE[/]")
        raise typer.Exit(1)
    return ci, value


@app.command()
def serve(
    store: StoreOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on; default CMDB_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port; default CMDB_PORT.")] = None,
) -> None:
    """Serve the GraphQL API, health, readiness and metrics over HTTP."""
    settings = _settings(store)
    _serve(settings, host or settings.host, port or settings.port)


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn

    from cmdb.app import create_app

    # A server logs its starts, stops and requests at CMDB_LOG_LEVEL, INFO by default.
    logging.getLogger().setLevel(settings.log_level.upper())
    graph_store = _open(settings)
    application = create_app(settings=settings, store=graph_store)
    start_periodic_discovery(settings, graph_store)
    console.print(f"GraphQL at http://{host}:{port}/graphql (store {redact_url(settings.store)})")
    try:
        uvicorn.run(application, host=host, port=port, log_level=settings.log_level.lower())
    finally:
        graph_store.close()


@app.command()
def demo(
    store: StoreOption = None,
    dataset: Annotated[
        str,
        typer.Option(
            help="'generated' for the generated health system, 'reference' for the small reference hospital."
        ),
    ] = "generated",
    seed: Annotated[int, typer.Option(help="Seed of the generated hospital.")] = 7,
    scale: Annotated[
        int, typer.Option(min=1, help="Size of the generated hospital (1 is a few thousand CIs).")
    ] = 1,
    host: Annotated[str | None, typer.Option(help="Address to listen on; default CMDB_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port; default CMDB_PORT.")] = None,
    serve_after: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API after loading.")
    ] = True,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the SQLite store first when it already contains CIs.")
    ] = False,
) -> None:
    """Load an empty store with a demo hospital, print an admin token, and serve with open reads."""
    from cmdb.auth import create_token

    if dataset not in ("generated", "reference"):
        errors.print(f"[red]invalid dataset {dataset!r}; use 'generated' or 'reference'[/]")
        raise typer.Exit(1)
    settings = _settings(store).model_copy(update={"open_reads": True})
    _make_demo_store_empty(settings.store, reset=reset)
    graph_store = _open(settings)
    context = ChangeContext(actor="demo", origin=Origin.DEMO)
    try:
        if dataset == "reference":
            from cmdb.imports import import_file

            reference = Path(__file__).parent / "data" / "hospital-small.json"
            report = import_file(store=graph_store, path=reference, context=context)
            console.print(f"Loaded the reference hospital: {report.summary()}")
        elif dataset == "generated":
            from cmdb.demo import load_demo

            counts = load_demo(
                store=graph_store, seed=seed, scale=scale, context=context, batch_size=settings.batch_size
            )
            console.print(
                f"Loaded the demo hospital (seed {seed}, scale {scale}):"
                f" {counts['cis']} CIs, {counts['relationships']} relationships"
            )
        token = create_token(store=graph_store, name="demo-admin", actor="demo-admin", roles=["admin"])
    finally:
        graph_store.close()
    console.print(f"Demo admin token (shown once): [bold]{token}[/]")
    if serve_after:
        _serve(settings, host or settings.host, port or settings.port)


def _make_demo_store_empty(url: str, *, reset: bool) -> None:
    """Make sure the demo loads into an empty store; delete a SQLite store only with ``reset``."""
    shown = redact_url(url)
    path = _sqlite_path(url)
    if path is not None and not path.exists():
        return
    probe = _open(Settings(store=url))
    try:
        held = probe.counts().get("cis", 0)
    finally:
        probe.close()
    if held == 0:
        return
    if not reset:
        errors.print(
            f"[red]store {shown} already holds {held} CIs; the demo loads into an empty store."
            " Pass --reset to delete this SQLite store first, or name another with --store.[/]"
        )
        raise typer.Exit(1)
    if path is None:
        errors.print(
            f"[red]--reset deletes SQLite files only; empty {shown} yourself or use another store[/]"
        )
        raise typer.Exit(1)
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists():
            candidate.unlink()
            logger.info("removed %s for a fresh demo store", candidate)
    errors.print(f"deleted {shown} ({held} CIs) as --reset asked")


@app.command("import")
def import_files(
    files: Annotated[list[Path], typer.Argument(exists=True, help="Files or folders to import.")],
    store: StoreOption = None,
    file_format: Annotated[
        str | None,
        typer.Option("--format", help="native, native-csv, fhir or app-graph; detected when left out."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Import files into the store; rejected rows are listed with their line and reason.

    Exit status: 0 when every row was written, 3 when some rows were rejected, 1 when a
    file could not be imported at all.
    """
    from rich.progress import Progress, TaskID

    from cmdb.imports import ImportFileError, ImportFormat, ImportProgress, import_file

    if file_format is not None and file_format not in {item.value for item in ImportFormat}:
        allowed = ", ".join(item.value for item in ImportFormat)
        errors.print(f"[red]invalid --format {file_format!r}; use one of: {allowed}[/]")
        raise typer.Exit(1)
    settings = _settings(store)
    graph_store = _open(settings)
    context = ChangeContext(actor=_cli_context().actor, origin=Origin.IMPORT)
    failed = False
    reports = []
    try:
        with Progress(console=errors, transient=True) as progress:
            for path in files:
                task = progress.add_task(f"importing {path.name}", total=None)

                def advance(step: ImportProgress, task_id: TaskID = task, name: str = path.name) -> None:
                    progress.update(
                        task_id,
                        description=f"{name}: {step.stage}",
                        completed=step.done,
                        total=step.total,
                    )

                try:
                    report = import_file(
                        store=graph_store,
                        path=path,
                        format=file_format,
                        context=context,
                        batch_size=settings.batch_size,
                        progress=advance,
                    )
                except (ImportFileError, StoreError, sqlite3.Error) as error:
                    errors.print(f"[red]{path}: {error}[/]")
                    failed = True
                    continue
                reports.append(report)
    finally:
        graph_store.close()
    if json_output:
        console.print_json(json.dumps([report.to_dict() for report in reports]))
    else:
        for report in reports:
            console.print(f"{report.path}: {report.summary()}")
            for rejected in report.rejected:
                console.print(f"  [yellow]rejected[/] {rejected}")
    if failed:
        raise typer.Exit(1)
    if any(report.rejected for report in reports):
        raise typer.Exit(3)


@app.command()
def impact(
    cis: Annotated[list[str] | None, typer.Argument(help="Root CIs by key, name, serial, MAC or IP.")] = None,
    mode: Annotated[
        Mode, typer.Option(case_sensitive=False, help="Mode of the roots given as arguments.")
    ] = Mode.DOWN,
    root: Annotated[list[str] | None, typer.Option(help="A root with its own mode, as CI=MODE.")] = None,
    urgency: Annotated[int, typer.Option(min=1, max=3, help="Urgency 1 (high) to 3 (low).")] = 2,
    override: Annotated[
        list[str] | None, typer.Option(help="A CI that stays OK and passes nothing on.")
    ] = None,
    open_incident: Annotated[
        list[str] | None,
        typer.Option("--open", help="An open incident as CI=STATE; it counts only toward group quorums."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Answer on the graph as it was at this ISO 8601 time with UTC offset."),
    ] = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show what a failure or a planned outage of the given CIs impacts, and who must act."""
    settings = _settings(store)
    graph_store = _open(settings, must_exist=True)
    try:
        roots: dict[str, Mode] = {_resolve(graph_store, text).key: mode for text in cis or []}
        for assignment in root or []:
            text, value = _parse_assignment(assignment, "--root")
            roots[_resolve(graph_store, text).key] = _enum_value(Mode, value, "--root mode")
        if not roots:
            errors.print("[red]no root CI given; name at least one CI or use --root CI=MODE[/]")
            raise typer.Exit(1)
        incidents: dict[str, ImpactState] = {}
        for assignment in open_incident or []:
            text, value = _parse_assignment(assignment, "--open")
            incidents[_resolve(graph_store, text).key] = _incident_state(value)
        overrides = frozenset(_resolve(graph_store, text).key for text in override or [])
        request = ImpactRequest(roots=roots, overrides=overrides, open_incidents=incidents, urgency=urgency)
        matrix = PriorityMatrix(settings.priority_matrix)
        if as_of is None:
            report = analyze(store=graph_store, request=request, matrix=matrix)
        else:
            report = _impact_as_of(graph_store, request, as_of, matrix)
    finally:
        graph_store.close()
    for warning in report.warnings:
        errors.print(f"[yellow]warning: {warning}[/]")
    if json_output:
        print(json.dumps(report.to_expected_shape(), indent=1))
    else:
        render_impact(console, report)


def _impact_as_of(
    graph_store: GraphStore, request: ImpactRequest, as_of: str, matrix: PriorityMatrix
) -> ImpactReport:
    from cmdb.changes.history import impact_as_of

    try:
        return impact_as_of(store=graph_store, request=request, at=parse_instant(as_of), matrix=matrix)
    except (ValueError, CINotFoundError) as error:
        errors.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None


def _enum_value(enum: type[Mode], value: str, what: str) -> Mode:
    try:
        return enum(value.upper())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        errors.print(f"[red]invalid {what} {value!r}; use one of: {allowed}[/]")
        raise typer.Exit(1) from None


def _incident_state(value: str) -> ImpactState:
    allowed = ("DOWN", "DEGRADED", "AT_RISK")
    if value.upper() not in allowed:
        errors.print(f"[red]invalid incident state {value!r}; use one of: {', '.join(allowed)}[/]")
        raise typer.Exit(1)
    return ImpactState[value.upper()]


@app.command()
def show(
    ci: Annotated[str, typer.Argument(help="A CI by key, name, serial, MAC or IP address.")],
    depth: Annotated[int, typer.Option(min=0, max=10, help="Also list CIs up to this many steps away.")] = 0,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a CI with its identifiers, attributes and relationships."""
    settings = _settings(store)
    graph_store = _open(settings, must_exist=True)
    try:
        record = _resolve(graph_store, ci)
        relationships = graph_store.relationships(record.key, direction=Direction.BOTH)
        neighbours = (
            graph_store.neighbours(record.key, depth=depth, direction=Direction.BOTH) if depth else []
        )
        ports = switch_ports(graph_store, record, relationships)
    finally:
        graph_store.close()
    if json_output:
        document = {
            "ci": record.model_dump(mode="json"),
            "relationships": [rel.model_dump(mode="json") for rel in relationships],
            "neighbours": [
                {"key": n.ci.key, "class": n.ci.ci_class, "name": n.ci.name, "distance": n.distance}
                for n in neighbours
            ],
        }
        print(json.dumps(document, indent=1))
    else:
        render_ci(console, record, relationships, neighbours)
        render_switch_ports(console, ports)


@app.command()
def schema() -> None:
    """Print the GraphQL schema (SDL)."""
    from cmdb.graphql.schema import export_sdl

    sys.stdout.write(export_sdl())


app.command("copy")(copy_command)


@token_app.command("create")
def token_create(
    name: Annotated[
        str,
        typer.Argument(
            help="The token's name, e.g. the tool that uses it; creating a name again replaces its token."
        ),
    ],
    role: Annotated[list[str], typer.Option("--role", help="A role given to the token; repeat for more.")],
    actor: Annotated[str | None, typer.Option(help="Actor written into history; default NAME.")] = None,
    store: StoreOption = None,
) -> None:
    """Create an API token and print it once; only its hash is stored.

    A name is one token: creating it again rotates the token, and the earlier one stops working.
    """
    from cmdb.auth import create_token

    settings = _settings(store)
    graph_store = _open(settings)
    try:
        token = create_token(store=graph_store, name=name, actor=actor or name, roles=role)
    except (ValueError, StoreError) as error:
        errors.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    finally:
        graph_store.close()
    print(token)
    errors.print(f"token {name!r} created; any earlier token of that name no longer works")


@app.callback()
def _configure(
    log_level: Annotated[
        str, typer.Option(help="Logging level on standard error: DEBUG, INFO, WARNING or ERROR.")
    ] = "WARNING",
) -> None:
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )


def main() -> None:
    try:
        app()
    except (sqlite3.Error, OSError, StoreError) as error:
        # A store that fails midway (locked, read-only, disk full) ends with its reason, not a traceback.
        errors.print(f"[red]store error: {error}; the command stopped here[/]")
        sys.exit(1)
