"""`sfgr`: every process of the product, and the local stack, behind one command."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from app.logs import configure_logging, get_logger
from app.settings import get_settings

log = get_logger("sfgr")


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.dir or os.environ.get("SFGR_DEV_DIR") or ".sfgr").resolve()


def _run_until_done(process: Coroutine[Any, Any, None]) -> int:
    """Run a consumer or poller process; missing or refused Kafka topics stop it with one error line
    naming them (exit 1), since running without them would only fail every message."""
    from app.bus import TopicsUnavailable
    from app.tracing import stop_tracing

    try:
        asyncio.run(process)
    except TopicsUnavailable as exc:
        log.error("kafka topics unavailable; stopping", error=str(exc))
        return 1
    finally:
        stop_tracing()
    return 0


def cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    from app.tracing import start_tracing, stop_tracing

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    start_tracing("api")
    uvicorn.run(
        "app.main:build_app",
        factory=True,
        host=args.host or settings.api_host,
        port=args.port or settings.api_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    stop_tracing()
    return 0


def cmd_consume(args: argparse.Namespace) -> int:
    from consumers.process import run_role
    from consumers.roles import ROLES

    if args.role not in ROLES:
        known = ", ".join(sorted(ROLES)) or "none"
        print(f"sfgr consume: unknown role {args.role!r}; known roles: {known}", file=sys.stderr)
        return 2
    from app.tracing import start_tracing

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    start_tracing(f"consumer-{args.role}")
    return _run_until_done(run_role(settings, ROLES[args.role]))


def cmd_poll(args: argparse.Namespace) -> int:
    from app.tracing import start_tracing
    from consumers.poller import run_poller

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    start_tracing("poller")
    return _run_until_done(run_poller(settings))


def cmd_subscribe(args: argparse.Namespace) -> int:
    from consumers.subscriber.process import run_subscriber

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    return _run_until_done(run_subscriber(settings))


def cmd_migrate(args: argparse.Namespace) -> int:
    from app.db.migrate import downgrade, upgrade

    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    url = settings.database_url.get_secret_value()
    if args.downgrade:
        downgrade(url, args.downgrade)
        print(f"downgraded to {args.downgrade}")
    else:
        upgrade(url, args.revision)
        print(f"upgraded to {args.revision}")
    return 0


def cmd_dev_up(args: argparse.Namespace) -> int:
    from devstack.stack import up

    configure_logging("WARNING", "console")
    stack = up(_state_dir(args), with_subscriber=True)
    print(json.dumps(stack.info, indent=2 if args.pretty else None))
    return 0


def cmd_dev_down(args: argparse.Namespace) -> int:
    from devstack.stack import down

    stopped = down(_state_dir(args))
    print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}", file=sys.stderr)
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    if args.vendor == "salesforce":
        from simulators.salesforce.__main__ import main as salesforce

        salesforce(args.rest)
    else:
        from simulators.getresponse.__main__ import main as getresponse

        getresponse(args.rest)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from devstack.demo import run_demo

    return run_demo(_state_dir(args), keep_running=not args.once)


def cmd_tokens(args: argparse.Namespace) -> int:
    import uuid

    from app.control import audit, tokens
    from app.control.audit import Actor
    from app.db.session import create_engine, session_factory

    settings = get_settings()
    configure_logging("WARNING", "console")

    async def run() -> int:
        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as session:
                if args.tokens_command == "create":
                    try:
                        lifetime = tokens.parse_lifetime(args.expires_in) if args.expires_in else None
                        issued = await tokens.create_token(
                            session, name=args.name, scopes=args.scope, expires_in=lifetime
                        )
                    except ValueError as exc:
                        print(f"sfgr tokens create: {exc}", file=sys.stderr)
                        return 2
                    await audit.record(
                        session, Actor.cli(), action="token.create", target_kind="token",
                        target_id=issued.info.id, change=issued.info.public(),
                    )
                    # Only the token goes to stdout, so that `TOKEN=$(sfgr tokens create ...)` works.
                    print(issued.token)
                    info = issued.info
                    until = f"; expires {info.expires_at.isoformat()}" if info.expires_at else ""
                    print(
                        f"token {info.id} ({info.name}; scopes: {', '.join(info.scopes)}{until}) created; "
                        "it is shown only this once",
                        file=sys.stderr,
                    )
                    return 0
                if args.tokens_command == "list":
                    listed = [t.public() for t in await tokens.list_tokens(session)]
                    print(json.dumps(listed, indent=2))
                    return 0
                try:
                    token_id = uuid.UUID(args.id)
                except ValueError:
                    print(f"sfgr tokens revoke: {args.id!r} is not a token id", file=sys.stderr)
                    return 2
                revoked = await tokens.revoke_token(session, token_id)
                if revoked is None:
                    print(f"sfgr tokens revoke: no token {token_id}", file=sys.stderr)
                    return 1
                await audit.record(
                    session, Actor.cli(), action="token.revoke", target_kind="token", target_id=token_id,
                    change={"name": revoked.name},
                )
                print(json.dumps(revoked.public(), indent=2))
                return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_keys(args: argparse.Namespace) -> int:
    from app.control import audit
    from app.control.audit import Actor
    from app.control.keys import rotate_keys
    from app.crypto import SecretBox
    from app.db.session import create_engine, session_factory

    settings = get_settings()
    configure_logging("WARNING", "console")

    async def run() -> int:
        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as session:
                try:
                    counts = await rotate_keys(session, SecretBox(settings))
                except ValueError as exc:
                    print(f"sfgr keys rotate: {exc}; nothing was changed", file=sys.stderr)
                    return 1
                await audit.record(
                    session, Actor.cli(), action="keys.rotate", target_kind="keys", target_id=None,
                    change={"resealed": counts},
                )
        finally:
            await engine.dispose()
        print(json.dumps({"resealed": counts}, indent=2))
        return 0

    return asyncio.run(run())


def cmd_audit(args: argparse.Namespace) -> int:
    from app.control import audit
    from app.db.session import create_engine, session_factory

    settings = get_settings()
    configure_logging("WARNING", "console")

    async def run() -> int:
        engine = create_engine(settings)
        try:
            async with session_factory(engine)() as session:
                page = await audit.list_entries(
                    session, limit=args.limit, before_id=args.before_id, action=args.action,
                    target_kind=args.target_kind, target_id=args.target_id, actor_id=args.actor_id,
                )
        finally:
            await engine.dispose()
        print(page.model_dump_json(indent=2))
        return 0

    return asyncio.run(run())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sfgr", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    api = sub.add_parser("api", help="run the HTTP api (inbound endpoints, control API, ops)")
    api.add_argument("--host")
    api.add_argument("--port", type=int)
    api.set_defaults(func=cmd_api)

    consume = sub.add_parser("consume", help="run one consumer role (see consumers/roles.py)")
    consume.add_argument("role")
    consume.set_defaults(func=cmd_consume)

    poll = sub.add_parser("poll", help="run the GetResponse poller (one active instance at a time)")
    poll.set_defaults(func=cmd_poll)

    subscribe = sub.add_parser(
        "subscribe", help="run the Pub/Sub API subscriber: CDC from each connected org (one active per org)"
    )
    subscribe.set_defaults(func=cmd_subscribe)

    migrate = sub.add_parser("migrate", help="apply database migrations")
    migrate.add_argument("--revision", default="head")
    migrate.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION instead")
    migrate.set_defaults(func=cmd_migrate)

    tokens = sub.add_parser("tokens", help="API tokens of the control API: create, list, revoke")
    tokens_sub = tokens.add_subparsers(dest="tokens_command", required=True)
    tokens_create = tokens_sub.add_parser(
        "create", help="create a token and print it (once): syncs:admin > resync:write > read"
    )
    tokens_create.add_argument(
        "--scope", action="append", required=True, choices=["syncs:admin", "resync:write", "read"]
    )
    tokens_create.add_argument("--name", default="api token", help="who or what uses it")
    tokens_create.add_argument(
        "--expires-in", metavar="LIFETIME", help="e.g. 90d, 12h or 30m; without it the token does not expire"
    )
    tokens_create.set_defaults(func=cmd_tokens)
    tokens_list = tokens_sub.add_parser("list", help="every token, without the secret (JSON)")
    tokens_list.set_defaults(func=cmd_tokens)
    tokens_revoke = tokens_sub.add_parser("revoke", help="revoke the token with this id")
    tokens_revoke.add_argument("id")
    tokens_revoke.set_defaults(func=cmd_tokens)

    audit = sub.add_parser("audit", help="the audit log of control-plane changes, newest first (JSON)")
    audit.add_argument("--action", help="e.g. sync.update, token.create, keys.rotate")
    audit.add_argument("--target-kind", help="connection, sync, dead_letter, token or keys")
    audit.add_argument("--target-id")
    audit.add_argument("--actor-id", help="an API token's id")
    audit.add_argument("--limit", type=int, default=50, choices=range(1, 201), metavar="1..200")
    audit.add_argument("--before-id", type=int, help="next_before_id of the previous page")
    audit.set_defaults(func=cmd_audit)

    keys = sub.add_parser("keys", help="the encryption key of the secrets at rest")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_rotate = keys_sub.add_parser(
        "rotate",
        help="re-encrypt every stored secret under SFGR_ENCRYPTION_KEY (the old key in "
        "SFGR_ENCRYPTION_PREVIOUS_KEYS still decrypts)",
    )
    keys_rotate.set_defaults(func=cmd_keys)

    dev = sub.add_parser("dev", help="the local stack: Postgres, Kafka, simulators, api, consumers")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)
    dev_up = dev_sub.add_parser("up", help="start it in the background and print one JSON object")
    dev_up.add_argument("--dir", help="state directory (default .sfgr or $SFGR_DEV_DIR)")
    dev_up.add_argument("--pretty", action="store_true")
    dev_up.set_defaults(func=cmd_dev_up)
    dev_down = dev_sub.add_parser("down", help="stop what `dev up` started and remove its data")
    dev_down.add_argument("--dir")
    dev_down.set_defaults(func=cmd_dev_down)

    sim = sub.add_parser("sim", help="run a vendor simulator: sfgr sim salesforce --port N")
    sim.add_argument("vendor", choices=["salesforce", "getresponse"])
    sim.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's own options")
    sim.set_defaults(func=cmd_sim)

    demo = sub.add_parser("demo", help="start the stack, show a change travel both ways, keep running")
    demo.add_argument("--dir")
    demo.add_argument("--once", action="store_true", help="stop the stack after the walkthrough")
    demo.set_defaults(func=cmd_demo)

    from app.operator.commands import add_commands

    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> None:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    try:
        sys.exit(args.func(args))
    except ValidationError as exc:
        # Settings are read first by every command: refuse to start, naming each setting, with no
        # traceback (the messages say which SFGR_* variable to fix).
        problems = "; ".join(
            ("SFGR_" + "_".join(map(str, e["loc"])).upper() + ": " if e["loc"] else "")
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        print(f"sfgr {args.command}: refusing to start: {problems}", file=sys.stderr)
        sys.exit(2)
