"""`python -m simulators.salesforce --port N [...]` (also `sfgr sim salesforce --port N`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulators.common.server import serve
from simulators.salesforce.app import create_app
from simulators.salesforce.config import SalesforceSimConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.salesforce", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--outbound-url", help="where Outbound Messages go (may hold ?key=...)")
    parser.add_argument("--cdc-url", help="the CDC relay endpoint")
    parser.add_argument("--cdc-secret", help="key of the X-Sfgr-Signature HMAC")
    parser.add_argument("--event-relay-url", help="Event Relay: the EventBridge API destination's endpoint")
    parser.add_argument("--event-relay-key", help="the API key value the API destination sends")
    parser.add_argument("--org-id", help="18-character org id (00D...)")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--username")
    parser.add_argument("--environment", choices=["production", "sandbox"])
    parser.add_argument("--instance-url", help="advertised instance URL (default: the URL requests use)")
    parser.add_argument("--api-quota", type=int, help="rolling 24 h API allocation")
    parser.add_argument(
        "--time-scale",
        type=float,
        dest="delivery_time_scale",
        help="multiplies delivery retry delays and max ages (default 0.001)",
    )
    parser.add_argument("--batch-window-ms", type=int)
    parser.add_argument("--duplicate-rule-on-email", action="store_true", default=None)
    parser.add_argument(
        "--jwt-public-key-file", type=Path, help="PEM key that JWT-bearer assertions must verify with"
    )
    parser.add_argument("--pubsub-port", type=int, default=0, help="Pub/Sub API gRPC port (0: a free one)")
    parser.add_argument("--pubsub-keepalive-s", type=float, dest="pubsub_keepalive_s")
    parser.add_argument("--log-level", default="warning")
    return parser


def config_from(args: argparse.Namespace) -> SalesforceSimConfig:
    names = (
        "outbound_url",
        "cdc_url",
        "cdc_secret",
        "event_relay_url",
        "event_relay_key",
        "org_id",
        "client_id",
        "client_secret",
        "username",
        "environment",
        "instance_url",
        "api_quota",
        "delivery_time_scale",
        "batch_window_ms",
        "duplicate_rule_on_email",
        "pubsub_keepalive_s",
    )
    values = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.jwt_public_key_file is not None:
        values["jwt_public_key"] = args.jwt_public_key_file.read_text()
    return SalesforceSimConfig(**values)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    app = create_app(config_from(args), pubsub_port=args.pubsub_port)
    serve(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
