"""The `cmdb change` commands and `cmdb history`: change records, approvals, implementation and rollback.

The CLI is an administrator's tool on the store itself. It records the actor
given with ``--actor`` (by default ``cli:USER``) and trusts that this actor
holds the role named with ``--role``; the checks of the change rules still apply.
"""

from __future__ import annotations

import getpass
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cmdb.changes.analysis import ChangeAssessment, RollbackAssessment, assess_change, assess_rollback
from cmdb.changes.apply import implement_change, rollback_change
from cmdb.changes.clock import iso, parse_local, resolve, zone
from cmdb.changes.errors import ChangeError
from cmdb.changes.history import VersionNotFoundError, ci_versions, diff_versions
from cmdb.changes.models import ChangeState
from cmdb.changes.service import approve_change, load_changes, record_review
from cmdb.settings import Settings
from cmdb.store import missing_sqlite_file, open_store, redact_url
from cmdb.store.base import CINotFoundError, GraphStore, StoreError

logger = logging.getLogger(__name__)

change_app = typer.Typer(help="Change records: blast radius, conflicts, approvals, implementation, rollback.")

console = Console()
errors = Console(stderr=True)

StoreOption = Annotated[
    str | None,
    typer.Option("--store", help="Store URL (sqlite:///PATH or neo4j://HOST:PORT); default CMDB_STORE."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ActorOption = Annotated[
    str | None, typer.Option("--actor", help="Actor recorded in history; default cli:USER.")
]
AtOption = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="Instant as ISO 8601; without a UTC offset it is a wall-clock time in the change's time zone."
        " Default now.",
    ),
]


def _open(store_url: str | None, *, must_exist: bool = True) -> GraphStore:
    """Open the store; with ``must_exist``, refuse to create a new SQLite file on a mistyped path."""
    url = store_url or Settings().store
    if must_exist and missing_sqlite_file(url):
        errors.print(f"[red]store {redact_url(url)} does not exist; check --store or CMDB_STORE[/]")
        raise typer.Exit(1)
    try:
        return open_store(url)
    except (ValueError, StoreError) as error:
        errors.print(f"[red]cannot open store {redact_url(url)}: {error}[/]")
        raise typer.Exit(1) from None


def _actor(actor: str | None) -> str:
    return actor or f"cli:{getpass.getuser()}"


def parse_instant(text: str, time_zone: str | None = None) -> datetime:
    """Parse an ISO 8601 instant; a time without offset is a wall-clock time in ``time_zone``.

    Raise ValueError when the text is no ISO 8601 time, or has no offset and no time zone applies.
    """
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"invalid time {text!r}; write ISO 8601 such as 2027-01-05T08:00-06:00") from None
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    if time_zone is None:
        raise ValueError(f"invalid time {text!r}: add a UTC offset, e.g. 2027-01-05T08:00-06:00")
    return resolve(parse_local(text, "time"), zone(time_zone))


def _change_zone(graph_store: GraphStore, change_id: str) -> str | None:
    stored = graph_store.get_change(change_id)
    return str(stored.document.get("time_zone")) if stored else None


def _fail(error: Exception) -> typer.Exit:
    errors.print(f"[red]{error}[/]", soft_wrap=True)
    return typer.Exit(1)


@contextmanager
def _opened_store(
    store_url: str | None, *expected: type[Exception], must_exist: bool = True
) -> Iterator[GraphStore]:
    """Open the store and close it on exit. An ``expected`` error is printed in red and exits with code 1."""
    graph_store = _open(store_url, must_exist=must_exist)
    try:
        yield graph_store
    except expected as error:
        raise _fail(error) from None
    finally:
        graph_store.close()


def _at_option(graph_store: GraphStore, change_id: str, at: str | None) -> datetime | None:
    """Parse ``--at`` in the time zone of the change, or return None when it is not given."""
    return parse_instant(at, _change_zone(graph_store, change_id)) if at else None


@change_app.command("load")
def load(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A JSON file shaped like changes.json.")
    ],
    store: StoreOption = None,
) -> None:
    """Load the freeze windows and changes of a file, all or nothing."""
    with _opened_store(store, ChangeError, must_exist=False) as graph_store:
        try:
            document = json.loads(file.read_text())
        except json.JSONDecodeError as error:
            raise _fail(ValueError(f"invalid JSON in {file}: {error}")) from None
        result = load_changes(store=graph_store, document=document)
    console.print(f"Loaded {len(result.freeze_windows)} freeze windows and {len(result.changes)} changes.")


@change_app.command("show")
def show(
    change_id: Annotated[str, typer.Argument(help="Change id.")],
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a change's blast radius, conflicts, next free slot, approvals and rollback plan."""
    with _opened_store(store, ChangeError, CINotFoundError) as graph_store:
        assessment = assess_change(store=graph_store, change_id=change_id)
        rollback = None
        if assessment.change.state in (ChangeState.IMPLEMENTED, ChangeState.CLOSED):
            rollback = assess_rollback(store=graph_store, change_id=change_id, at=datetime.now(UTC))
    if json_output:
        print(json.dumps(assessment.to_expected_shape(), indent=1))
        return
    render_assessment(console, assessment)
    if rollback is not None:
        render_rollback(console, rollback)


def render_assessment(out: Console, assessment: ChangeAssessment) -> None:
    """Print a change with its blast radius, conflicts, next free slot and approvals."""
    change, tz, report = assessment.change, assessment.tz, assessment.impact.report
    out.print(
        f"[bold]{change.id}[/] {change.title} ({change.type.value}, {change.state.value}),"
        f" window {' to '.join(assessment.window.as_pair(tz))}, implementer {change.implementer}"
    )
    radius = Table(title=f"Blast radius: impact level {report.impact_level}, {len(report.impacted)} CIs")
    for column in ("state", "key", "class", "criticality"):
        radius.add_column(column)
    for ci in sorted(report.impacted, key=lambda c: (c.distance, c.key)):
        radius.add_row(ci.state, ci.key, ci.ci_class, ci.criticality)
    out.print(radius)
    summary = Table(title="Clinical summary")
    summary.add_column("kind")
    summary.add_column("CIs")
    summary.add_row("services", ", ".join(f"{k} {v}" for k, v in sorted(report.services.items())))
    summary.add_row("departments", ", ".join(f"{k} {v}" for k, v in sorted(report.departments.items())))
    summary.add_row("life-critical devices", ", ".join(report.life_critical_devices))
    summary.add_row("stakeholders", ", ".join(report.stakeholders))
    out.print(summary)
    conflicts = Table(title="Conflicts")
    for column in ("kind", "id", "enforcement", "occurrence", "CIs"):
        conflicts.add_column(column)
    for entry in assessment.conflicts.to_list(tz):
        cis = entry.get("scope_hit", entry.get("shared", []))
        occurrence = entry.get("occurrence", [])
        conflicts.add_row(
            str(entry["kind"]),
            str(entry["id"]),
            str(entry.get("enforcement", "hard")),
            " to ".join(occurrence) if isinstance(occurrence, list) else "",
            ", ".join(cis) if isinstance(cis, list) else "",
        )
    out.print(conflicts)
    slot = assessment.next_free_slot
    out.print(f"Next free slot: {' to '.join(slot.as_pair(tz)) if slot else 'none within 90 days'}")
    approvals = Table(title="Approvals")
    for column in ("role", "approved by", "at"):
        approvals.add_column(column)
    granted = {approval.role: approval for approval in assessment.approvals}
    for role in assessment.required_approvals:
        approval = granted.get(role)
        approvals.add_row(
            role,
            approval.actor if approval else "[yellow]missing[/]",
            iso(approval.recorded_at, tz) if approval else "",
        )
    out.print(approvals)
    if assessment.post_implementation_review:
        out.print("Needs a post-implementation review.")


def render_rollback(out: Console, assessment: RollbackAssessment) -> None:
    """Print a rollback plan: items in order, coupled CIs, blockers and conflicts of its window."""
    tz = zone(assessment.change.time_zone)
    plan = assessment.plan
    items = Table(
        title=f"Rollback of {assessment.change.id}, window {' to '.join(assessment.window.as_pair(tz))}"
    )
    for column in ("step", "CI", "attribute", "from", "to"):
        items.add_column(column)
    for step, item in enumerate(plan.items, start=1):
        items.add_row(
            str(step), item.ci, item.attribute, json.dumps(item.set_value), json.dumps(item.previous)
        )
    out.print(items)
    out.print(f"Order: {' → '.join(plan.order)}")
    out.print(f"Coupled: {'; '.join(', '.join(group) for group in plan.coupled) or 'none'}")
    for blocker in plan.blockers:
        out.print(f"[red]Blocker[/]: {json.dumps(blocker.to_dict())}")
    for conflict in assessment.conflicts.to_list(tz):
        out.print(f"[yellow]Conflict[/]: {json.dumps(conflict)}")


@change_app.command("approve")
def approve(
    change_id: Annotated[str, typer.Argument(help="Change id.")],
    role: Annotated[str, typer.Option("--role", help="Role the approval is given as, e.g. cab.")],
    actor: Annotated[str, typer.Option("--actor", help="Who approves; recorded with the approval.")],
    comment: Annotated[str, typer.Option(help="Comment recorded with the approval.")] = "",
    store: StoreOption = None,
) -> None:
    """Record an approval by ACTOR as ROLE; the CLI trusts that ACTOR holds ROLE."""
    with _opened_store(store, ChangeError, CINotFoundError, StoreError) as graph_store:
        approve_change(
            store=graph_store,
            change_id=change_id,
            role=role,
            actor=actor,
            caller_roles=frozenset({role}),
            comment=comment,
        )
    console.print(f"Approved {change_id} as {role} by {actor}.")


@change_app.command("implement")
def implement(
    change_id: Annotated[str, typer.Argument(help="Change id.")],
    reason: Annotated[
        str | None, typer.Option(help="Emergency reason; lets an emergency change pass a hard freeze.")
    ] = None,
    at: AtOption = None,
    actor: ActorOption = None,
    store: StoreOption = None,
) -> None:
    """Apply a scheduled, approved change's values as new CI versions tagged with the change id."""
    with _opened_store(store, ChangeError, CINotFoundError, StoreError, ValueError) as graph_store:
        instant = _at_option(graph_store, change_id, at)
        result = implement_change(
            store=graph_store, change_id=change_id, actor=_actor(actor), at=instant, reason=reason
        )
    console.print(f"Implemented {change_id} on {', '.join(result.change.touched_keys())}.")
    for exception in result.freeze_exceptions:
        console.print(f"[yellow]Freeze exception recorded for review[/]: {exception.window_id}")


@change_app.command("rollback")
def rollback(
    change_id: Annotated[str, typer.Argument(help="Change id.")],
    force: Annotated[bool, typer.Option(help="Roll back despite blockers; needs --reason.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why a blocked rollback is forced.")] = None,
    at: AtOption = None,
    actor: ActorOption = None,
    store: StoreOption = None,
) -> None:
    """Revert the values an implemented change set, in the rollback order."""
    with _opened_store(store, ChangeError, CINotFoundError, StoreError, ValueError) as graph_store:
        instant = _at_option(graph_store, change_id, at)
        result = rollback_change(
            store=graph_store,
            change_id=change_id,
            actor=_actor(actor),
            at=instant,
            force=force,
            reason=reason,
        )
    console.print(f"Rolled back {change_id} in the order {' → '.join(result.assessment.plan.order)}.")


@change_app.command("rollback-plan")
def rollback_plan(
    change_id: Annotated[str, typer.Argument(help="Change id.")],
    at: AtOption = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show what rolling back a change at a given time reverts, in which order, and what blocks it."""
    with _opened_store(store, ChangeError, CINotFoundError, ValueError) as graph_store:
        instant = _at_option(graph_store, change_id, at) or datetime.now(UTC)
        assessment = assess_rollback(store=graph_store, change_id=change_id, at=instant)
    if json_output:
        print(json.dumps(assessment.to_dict(), indent=1))
    else:
        render_rollback(console, assessment)


@change_app.command("review")
def review(
    change_id: Annotated[str, typer.Argument(help="Change id.")],
    outcome: Annotated[str, typer.Option(help="Outcome of the review, e.g. successful.")],
    notes: Annotated[str, typer.Option(help="Notes of the review.")] = "",
    actor: ActorOption = None,
    store: StoreOption = None,
) -> None:
    """Record a post-implementation review; it closes the review of the change's freeze exceptions."""
    with _opened_store(store, ChangeError, StoreError) as graph_store:
        record_review(
            store=graph_store, change_id=change_id, actor=_actor(actor), outcome=outcome, notes=notes
        )
    console.print(f"Recorded the review of {change_id}.")


def history(
    ci: Annotated[str, typer.Argument(help="CI key.")],
    diff: Annotated[
        tuple[int, int] | None, typer.Option("--diff", help="Show what changed from version A to version B.")
    ] = None,
    store: StoreOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the versions of a CI with actor, origin, request id and change id, or a diff of two."""
    with _opened_store(store, CINotFoundError, VersionNotFoundError) as graph_store:
        if diff is not None:
            changes = diff_versions(store=graph_store, key=ci, before=diff[0], after=diff[1])
            rows: list[dict[str, Any]] = [
                {"field": c.field, "from": c.before, "to": c.after} for c in changes
            ]
        else:
            rows = [
                {
                    "version": v.version,
                    "operation": v.operation,
                    "actor": v.actor,
                    "origin": v.origin,
                    "request_id": v.request_id,
                    "change_id": v.change_id,
                    "valid_from": v.valid_from.isoformat(),
                    "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                }
                for v in ci_versions(graph_store, ci)
            ]
    if json_output:
        print(json.dumps(rows, indent=1, default=str))
        return
    table = Table(title=f"{'Diff' if diff else 'History'} of {ci}")
    for column in rows[0] if rows else ["field"]:
        table.add_column(column)
    for row in rows:
        table.add_row(*(json.dumps(value) if not isinstance(value, str) else value for value in row.values()))
    console.print(table)
