"""`sfgr syncs|resync|jobs|dead-letters|contacts`: the operator's commands over the control API.

Every command takes `--api-url` (or `SFGR_API_URL`), `--token` (or `SFGR_API_TOKEN`) and `--json`
(the API's own JSON, for scripts; tables otherwise). API errors are printed as the API words them.
Exit codes: 0 done; 1 the API refused (or a watched job failed or was cancelled); 2 bad usage;
3 the API could not be reached; 4 the token is missing, unknown or lacks the scope.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.domain.jobs import ResyncMode
from app.operator.client import DEFAULT_API_URL, ApiError, ControlClient
from app.operator.output import as_json, err, fields, out, table

EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_UNAUTHORIZED = 1, 2, 3, 4
FINISHED = ("done", "failed", "cancelled")

class UsageError(Exception):
    """Arguments that argparse lets through but that say nothing the API could do."""


Command = Callable[[ControlClient, argparse.Namespace], int]

SYNC_COLUMNS = ["id", "state", "campaign_id", "name"]
JOB_COLUMNS = [
    "job_id", "kind", "state", "progress.phase", "progress.done", "progress.total", "progress.errors",
    "created_at",
]
LETTER_COLUMNS = ["id", "status", "source", "key", "error_class", "reason", "created_at"]


def run(command: Command) -> Callable[[argparse.Namespace], int]:
    """The command with a client from the arguments, and API errors printed with their exit code."""

    def handler(args: argparse.Namespace) -> int:
        with ControlClient(args.api_url, args.token) as client:
            try:
                return command(client, args)
            except UsageError as exc:
                err.print(f"sfgr {args.command}: {exc}", highlight=False, markup=False)
                return EXIT_USAGE
            except ApiError as exc:
                where = f"{exc.status}: " if exc.status else ""
                err.print(f"sfgr {args.command}: {where}{exc.detail}", highlight=False, markup=False)
                if exc.status is None:
                    return EXIT_UNREACHABLE
                return EXIT_UNAUTHORIZED if exc.status in (401, 403) else EXIT_REFUSED

    return handler


# --- syncs ---------------------------------------------------------------------------------------


def syncs_list(client: ControlClient, args: argparse.Namespace) -> int:
    found = client.get("/v1/syncs")
    as_json(found) if args.json else table(found, SYNC_COLUMNS, title="syncs")
    return 0


def syncs_show(client: ControlClient, args: argparse.Namespace) -> int:
    sync = client.get(f"/v1/syncs/{args.sync_id}")
    as_json(sync) if args.json else fields(sync)
    return 0


def syncs_status(client: ControlClient, args: argparse.Namespace) -> int:
    status = client.get(f"/v1/syncs/{args.sync_id}/status")
    as_json(status) if args.json else fields(status)
    return 0


def syncs_errors(client: ControlClient, args: argparse.Namespace) -> int:
    errors = client.get(f"/v1/syncs/{args.sync_id}/errors")
    if args.json:
        as_json(errors)
    else:
        columns = ["count", "open", "error_class", "reason", "hint"]
        table(errors["groups"], columns, title="errors of the last day")
    return 0


def syncs_action(action: str) -> Command:
    def act(client: ControlClient, args: argparse.Namespace) -> int:
        sync = client.post(f"/v1/syncs/{args.sync_id}/{action}")
        if args.json:
            as_json(sync)
        else:
            resent = f"; {sync['changes_resent']} kept changes sent again" if "changes_resent" in sync else ""
            out.print(f"sync {sync['id']} is {sync['state']}{resent}", highlight=False)
        return 0

    return act


def first_sync(client: ControlClient, args: argparse.Namespace) -> int:
    job = client.post(f"/v1/syncs/{args.sync_id}/first-sync", dry_run=str(args.dry_run).lower())
    return _started(client, args, job)


def resync(client: ControlClient, args: argparse.Namespace) -> int:
    scope: dict[str, Any] = {"whole_sync": True} if args.whole else {"emails": args.email}
    body = {"sync_id": args.sync_id, "scope": scope, "mode": args.mode, "dry_run": args.dry_run}
    return _started(client, args, client.post("/v1/resync", body))


def _started(client: ControlClient, args: argparse.Namespace, job: dict[str, Any]) -> int:
    if args.watch:
        return _watch(client, args, job["job_id"])
    as_json(job) if args.json else out.print(f"job {job['job_id']} {job['state']}", highlight=False)
    return 0


# --- jobs ----------------------------------------------------------------------------------------


def jobs_list(client: ControlClient, args: argparse.Namespace) -> int:
    found = client.get(f"/v1/syncs/{args.sync_id}/jobs", limit=args.limit)
    as_json(found) if args.json else table(found, JOB_COLUMNS, title="jobs, newest first")
    return 0


def jobs_watch(client: ControlClient, args: argparse.Namespace) -> int:
    return _watch(client, args, args.job_id)


def _watch(client: ControlClient, args: argparse.Namespace, job_id: str) -> int:
    """Follow a job until it finishes: a progress bar for people, the finished job for --json."""
    job = client.get(f"/v1/jobs/{job_id}")
    if args.json:
        while job["state"] not in FINISHED:
            time.sleep(args.interval)
            job = client.get(f"/v1/jobs/{job_id}")
        as_json(job)
        return _job_exit(job)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=out, transient=False) as bar:
        task = bar.add_task(_describe(job), total=job["progress"]["total"])
        while True:
            progress = job["progress"]
            bar.update(task, description=_describe(job), total=progress["total"], completed=progress["done"])
            if job["state"] in FINISHED:
                break
            time.sleep(args.interval)
            job = client.get(f"/v1/jobs/{job_id}")
    progress = job["progress"]
    out.print(
        f"job {job_id} {job['state']}: {progress['done']} done, {progress['created']} created, "
        f"{progress['updated']} updated, {progress['conflicts']} conflicts, {progress['errors']} errors",
        highlight=False,
    )
    if job.get("errors"):
        err.print(f"errors: {job['errors']}", highlight=False, markup=False)
    return _job_exit(job)


def _describe(job: dict[str, Any]) -> str:
    return f"{job['kind'].replace('_', ' ')} {job['progress']['phase']}"


def _job_exit(job: dict[str, Any]) -> int:
    return 0 if job["state"] == "done" else EXIT_REFUSED


# --- dead letters --------------------------------------------------------------------------------


def letters_list(client: ControlClient, args: argparse.Namespace) -> int:
    page = client.get("/v1/dead-letters", sync_id=args.sync, status=args.status, limit=args.limit)
    as_json(page) if args.json else table(page["items"], LETTER_COLUMNS, title=f"{args.status} dead letters")
    return 0


def letters_show(client: ControlClient, args: argparse.Namespace) -> int:
    letter = client.get(f"/v1/dead-letters/{args.id}")
    as_json(letter) if args.json else fields(letter)
    return 0


def letters_action(action: str) -> Command:
    """One dead letter by id, or every open one matching the filters (in one transaction)."""

    def act(client: ControlClient, args: argparse.Namespace) -> int:
        if args.id is not None:
            if _filters(args):
                raise UsageError("give either a dead letter's id or filters, not both")
            letter = (
                client.post(f"/v1/dead-letters/{args.id}/replay")
                if action == "replay"
                else client.delete(f"/v1/dead-letters/{args.id}")
            )
            as_json(letter) if args.json else out.print(f"dead letter {letter['id']} {letter['status']}")
            return 0
        if not _filters(args) and not args.all:
            raise UsageError(f"{action} which dead letters? give an id, filters, or --all")
        result = client.post(f"/v1/dead-letters/{action}", {**_filters(args), "limit": args.limit})
        if args.json:
            as_json(result)
        else:
            verb = "replayed" if action == "replay" else "discarded"
            skipped = f"; left open (malformed): {result['skipped']}" if result["skipped"] else ""
            out.print(f"{result['done']} of {result['matched']} matching dead letters {verb}{skipped}")
        return 0

    return act


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    given = {
        "sync_id": args.sync,
        "error_class": args.error_class,
        "reason_contains": args.reason,
        "created_after": args.after,
        "created_before": args.before,
    }
    return {k: v for k, v in given.items() if v is not None}


# --- contacts ------------------------------------------------------------------------------------


def contacts_why(client: ControlClient, args: argparse.Namespace) -> int:
    links = client.get("/v1/contacts", email=args.email, sync_id=args.sync)
    if not links:
        raise ApiError(404, f"no contact link for {args.email}")
    pages = [client.get(f"/v1/contacts/{link['id']}/decisions", limit=args.limit) for link in links]
    if args.json:
        as_json(pages)
        return 0
    for page in pages:
        link = page["link"]
        out.print(
            f"{link['email']} in sync {link['sync_id']}: {link['state']}, Salesforce "
            f"{link.get('salesforce_object') or ''} {link.get('salesforce_id') or '-'}, GetResponse "
            f"{link.get('getresponse_contact_id') or '-'}",
            highlight=False,
        )
        table(
            page["items"],
            ["created_at", "field", "old_value", "new_value", "winner", "rule", "reason"],
            title="decisions, newest first",
        )
    return 0


# --- the parser ----------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--api-url", default=os.environ.get("SFGR_API_URL", DEFAULT_API_URL),
        help=f"the control API (default $SFGR_API_URL or {DEFAULT_API_URL})",
    )
    parser.add_argument("--token", default=os.environ.get("SFGR_API_TOKEN"), help="default $SFGR_API_TOKEN")
    parser.add_argument("--json", action="store_true", help="the API's JSON instead of a table")


def _leaf(sub: Any, name: str, command: Command, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
    _common(parser)
    parser.set_defaults(func=run(command))
    return parser


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    parser.add_argument("--watch", action="store_true", help="follow the job with a progress bar")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between looks (--watch)")


def add_commands(sub: Any) -> None:
    """Add the operator's commands to `sfgr`'s subcommands."""
    syncs = sub.add_parser("syncs", help="syncs over the control API: list, show, status, pause, ...")
    syncs_sub = syncs.add_subparsers(dest="syncs_command", required=True)
    _leaf(syncs_sub, "list", syncs_list, "every sync")
    for name, command, text in (
        ("show", syncs_show, "one sync's settings"),
        ("status", syncs_status, "state, link counts, dead letters, lag, API usage"),
        ("errors", syncs_errors, "the last day's dead letters grouped by cause, with hints"),
        ("pause", syncs_action("pause"), "keep its changes, apply none, until resumed"),
        ("resume", syncs_action("resume"), "apply what was kept, in order, and go on"),
        ("cancel", syncs_action("cancel"), "stop it for good (links are kept)"),
    ):
        _leaf(syncs_sub, name, command, text).add_argument("sync_id")
    first = _leaf(syncs_sub, "first-sync", first_sync, "start the first sync")
    first.add_argument("sync_id")
    _job_options(first)

    again = _leaf(sub, "resync", resync, "resync people (--email, repeatable) or a whole sync (--whole)")
    again.add_argument("--sync", dest="sync_id", required=True)
    who = again.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", action="append")
    who.add_argument("--whole", action="store_true")
    again.add_argument("--mode", default="reconcile", choices=[mode.value for mode in ResyncMode])
    _job_options(again)

    jobs = sub.add_parser("jobs", help="a sync's jobs: list them, or watch one")
    jobs_sub = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = _leaf(jobs_sub, "list", jobs_list, "a sync's jobs, newest first")
    listing.add_argument("--sync", dest="sync_id", required=True)
    listing.add_argument("--limit", type=int, default=20)
    watch = _leaf(jobs_sub, "watch", jobs_watch, "follow a job with a progress bar until it finishes")
    watch.add_argument("job_id")
    watch.add_argument("--interval", type=float, default=0.5)

    letters = sub.add_parser("dead-letters", help="dead letters: list, show, replay, discard")
    letters_sub = letters.add_subparsers(dest="letters_command", required=True)
    listed = _leaf(letters_sub, "list", letters_list, "newest first")
    listed.add_argument("--sync")
    listed.add_argument("--status", default="open", choices=["open", "replayed", "discarded", "all"])
    listed.add_argument("--limit", type=int, default=50)
    _leaf(letters_sub, "show", letters_show, "one dead letter with its event").add_argument("id", type=int)
    for action in ("replay", "discard"):
        acting = _leaf(
            letters_sub, action, letters_action(action),
            f"{action} one dead letter by id, or every open one matching the filters",
        )
        acting.add_argument("id", type=int, nargs="?")
        acting.add_argument("--sync")
        acting.add_argument("--class", dest="error_class", help="error class, e.g. Permanent")
        acting.add_argument("--reason", help="words of the reason (case-insensitive)")
        acting.add_argument("--after", help="created at or after (ISO 8601)")
        acting.add_argument("--before", help="created before (ISO 8601)")
        acting.add_argument("--all", action="store_true", help="every open dead letter (no filter)")
        acting.add_argument("--limit", type=int, default=1000)

    contacts = sub.add_parser("contacts", help="people: why a value is what it is")
    contacts_sub = contacts.add_subparsers(dest="contacts_command", required=True)
    why = _leaf(contacts_sub, "why", contacts_why, "the decision log of the person with this email")
    why.add_argument("email")
    why.add_argument("--sync")
    why.add_argument("--limit", type=int, default=50)
