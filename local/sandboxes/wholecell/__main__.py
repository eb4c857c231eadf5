"""`python -m local.sandboxes.wholecell --port 8081 [--account APP_ID:SECRET ...]`: serve in foreground."""

from __future__ import annotations

import argparse
import threading

from local.sandboxes.wholecell.app import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="WholeCell API sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests/s per account (429 above)")
    parser.add_argument("--seed", type=int, default=None, help="seed for fault injection")
    parser.add_argument("--webhook-async", action="store_true", help="deliver webhooks on a thread")
    parser.add_argument("--account", action="append", default=[], metavar="APP_ID:SECRET",
                        help="create an account with the default statuses/channels (repeatable)")
    args = parser.parse_args(argv)
    server = serve(args.host, args.port, rate_limit=args.rate_limit, seed=args.seed,
                   webhook_async=args.webhook_async)
    for spec in args.account:
        app_id, _, secret = spec.partition(":")
        server.state.create_account(app_id, secret)
    print(f"WholeCell sandbox on {server.url}/api/v1 (admin: {server.url}/_sandbox/state)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
