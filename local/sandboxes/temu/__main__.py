"""`python -m local.sandboxes.temu --port N [--app-key K --app-secret S]`: run in the foreground."""

from __future__ import annotations

import argparse
import threading

from local.sandboxes.temu import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Temu Open API sandbox")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8710)
    parser.add_argument("--app-key", default=DEFAULT_APP_KEY)
    parser.add_argument("--app-secret", default=DEFAULT_APP_SECRET)
    parser.add_argument("--rate-limit", type=float, default=None, help="requests/s across all shops")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    server = serve(
        args.host,
        args.port,
        app_keys={args.app_key: args.app_secret},
        rate_limit=args.rate_limit,
        seed=args.seed,
    )
    print(
        f"Temu sandbox on {server.url} (router {server.url}/openapi/router, admin {server.url}/_sandbox/)",
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
