"""`python -m local.runner`: the whole stack on fixed local ports until Ctrl-C.

No Docker runs on these machines, so `sam local start-api` is replaced by local.stack, which
reads template.yaml (the one source of truth). Ports: LOCAL_API_PORT (3000), LOCAL_MOTO_PORT
(4566), LOCAL_TEMU_PORT (7001), LOCAL_WHOLECELL_PORT (7002); schedules fire every
LOCAL_SCHEDULE_SECONDS (60; 0 = never). `--write-env-json` regenerates local/env.json, the
`sam local invoke --env-vars` file that points functions at those same ports.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from local.stack import DEFAULT_PORTS, LocalStack, render_env_json
from local.template import load_template

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_JSON = PROJECT_ROOT / "local" / "env.json"


def _port(name: str) -> int:
    return int(os.environ.get(f"LOCAL_{name.upper()}_PORT", DEFAULT_PORTS[name]))


def _summary(stack: LocalStack) -> str:
    lines = [
        f"HTTP API          {stack.api_url}",
        f"AWS (moto)        {stack.endpoint_url}",
        f"Temu router       {stack.temu_gateway_url}",
        f"Temu authorize    {stack.temu_authorize_url}",
        f"WholeCell API     {stack.wholecell_api_url}",
        f"Schedules         every {stack.schedule_seconds:g} s" if stack.schedule_seconds else
        "Schedules         on demand only",
    ]
    for function in stack.template.functions.values():
        events = [f"{r.method} {r.path}" for r in function.http_routes]
        events += [f"SQS {m.queue}" for m in function.sqs_mappings]
        events += [f"schedule {s.expression}" for s in function.schedules]
        lines.append(f"  {function.logical_id:<28} {', '.join(events) or '(invoke only)'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.runner", description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=_port("api"))
    parser.add_argument("--schedule-seconds", type=float,
                        default=float(os.environ.get("LOCAL_SCHEDULE_SECONDS", "60")))
    parser.add_argument("--template", type=Path, default=PROJECT_ROOT / "template.yaml")
    parser.add_argument("--write-env-json", action="store_true", help=f"regenerate {ENV_JSON} and exit")
    args = parser.parse_args(argv)

    if args.write_env_json:
        ENV_JSON.write_text(render_env_json(load_template(args.template)), encoding="utf-8")
        print(f"wrote {ENV_JSON}")
        return 0

    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C or a supervisor: stop cleanly, once
        signal.signal(signum, lambda *_: stopped.set())
    stack = LocalStack(PROJECT_ROOT, args.template, api_port=args.api_port, schedule_seconds=args.schedule_seconds,
                       moto_port=_port("moto"), temu_port=_port("temu"), wholecell_port=_port("wholecell"),
                       log_prefix=True).start()
    try:
        print(_summary(stack), flush=True)
        print("Ctrl-C to stop.", flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        stack.stop()
    print("stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
