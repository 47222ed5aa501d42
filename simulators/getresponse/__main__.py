"""`python -m simulators.getresponse --port N [...]`: the simulator on its own (also what
`sfgr sim getresponse` runs). Every href then points at this server's own `/v3`.
"""

from __future__ import annotations

import argparse

from simulators.common.server import serve
from simulators.getresponse.app import create_app
from simulators.getresponse.config import GetResponseSimConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simulators.getresponse", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--webhook-url", help="where webhooks go, including its ?secret=")
    parser.add_argument("--api-key", help="the accepted API key (X-Auth-Token: api-key <KEY>)")
    parser.add_argument("--oauth-token", action="append", help="an accepted OAuth Bearer token (repeatable)")
    parser.add_argument("--account-id")
    parser.add_argument("--max-domain", help="simulate a GetResponse MAX account with this X-Domain")
    parser.add_argument("--create-delay-ms", type=int)
    parser.add_argument("--delivery-time-scale", type=float, help="multiplies webhook retry waits")
    parser.add_argument(
        "--webhook-timeout-s", type=float, help="scaled by --delivery-time-scale, at least 1 s"
    )
    parser.add_argument("--webhook-batching", action="store_true", help="send events as JSON arrays")
    parser.add_argument("--log-level", default="warning")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    given = {
        "webhook_url": args.webhook_url,
        "api_key": args.api_key,
        "oauth_tokens": args.oauth_token,
        "account_id": args.account_id,
        "max_domain": args.max_domain,
        "create_delay_ms": args.create_delay_ms,
        "delivery_time_scale": args.delivery_time_scale,
        "webhook_timeout_s": args.webhook_timeout_s,
        "webhook_batching": args.webhook_batching or None,
    }
    config = GetResponseSimConfig(
        href_base=f"http://{args.host}:{args.port}/v3",
        **{key: value for key, value in given.items() if value is not None},
    )
    serve(create_app(config), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
