"""`python -m local.runner`: the whole stack on fixed local ports until Ctrl-C.

No Docker runs on these machines, so `sam local start-api` is replaced by local.stack, which
reads template.yaml (the one source of truth). Ports: LOCAL_API_PORT (3000), LOCAL_MOTO_PORT
(4566), LOCAL_TEMU_PORT (7001), LOCAL_WHOLECELL_PORT (7002), and the Lambda API `make invoke`
uses, LOCAL_LAMBDA_PORT (3001, local/lambda_api.py); schedules fire every
LOCAL_SCHEDULE_SECONDS (60; 0 = never). Every server listens on LOCAL_BIND_HOST (127.0.0.1;
0.0.0.0 lets `sam local invoke`'s containers reach them, README). With IAM enforced, each
function's moto credentials are written to local/.credentials, a profile per function, while
the stack runs. `--write-env-json` regenerates local/env.json, the `sam local invoke
--env-vars` file that points functions at those same ports (as host.docker.internal).
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
from pathlib import Path

from local.invoke import EventFiller
from local.lambda_api import LambdaApi
from local.stack import DEFAULT_PORTS, LOOPBACK, LocalStack, render_env_json
from local.template import load_template

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_JSON = PROJECT_ROOT / "local" / "env.json"
CREDENTIALS = PROJECT_ROOT / "local" / ".credentials"  # AWS shared-credentials file, a profile per function
OPERATOR_PROFILE = "operator"  # and one for the harness's administrator (the CLI's --local DLQ commands)


def _port(name: str) -> int:
    return int(os.environ.get(f"LOCAL_{name.upper()}_PORT", DEFAULT_PORTS[name]))


def write_credentials(stack: LocalStack, path: Path = CREDENTIALS) -> bool:
    """Each function's moto credentials as a profile named by its logical id, for `sam local invoke
    --profile` (README); False when IAM is not enforced (any credentials then do)."""
    if not stack.function_credentials:
        return False
    lines = ["# written by `make local` (local/runner.py) while it runs: each function's credentials on its moto",
             "# (IAM enforced); AWS_SHARED_CREDENTIALS_FILE=local/.credentials sam local invoke <Function> "
             "--profile <Function>"]
    for function, credentials in sorted(stack.function_credentials.items()):
        lines += ["", f"[{function}]", f"aws_access_key_id = {credentials.access_key_id}",
                  f"aws_secret_access_key = {credentials.secret_access_key}"]
    # the harness's administrator: what `wholecell-temu --local dlq ...` reads the local queues with
    lines += ["", f"[{OPERATOR_PROFILE}]", f"aws_access_key_id = {os.environ['AWS_ACCESS_KEY_ID']}",
              f"aws_secret_access_key = {os.environ['AWS_SECRET_ACCESS_KEY']}"]
    path.touch(mode=0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return True


def _summary(stack: LocalStack, lambda_api: LambdaApi, credentials: bool) -> str:
    lines = [
        f"HTTP API          {stack.api_url}",
        f"Lambda API        {lambda_api.url} (make invoke; aws lambda invoke --endpoint-url)",
        f"AWS (moto)        {stack.endpoint_url}",
        f"Temu router       {stack.temu_gateway_url}",
        f"Temu authorize    {stack.temu_authorize_url}",
        f"WholeCell API     {stack.wholecell_api_url}",
        f"Schedules         every {stack.schedule_seconds:g} s" if stack.schedule_seconds else
        "Schedules         on demand only",
    ]
    if credentials:
        lines.append(f"Credentials       {CREDENTIALS.relative_to(PROJECT_ROOT)} (a profile per function)")
    if stack.bind_host != LOOPBACK:
        lines.append(f"Listening on      {stack.bind_host}")
    for function in stack.template.functions.values():
        events = [f"{r.method} {r.path}" for r in function.http_routes]
        events += [f"SQS {m.queue}" for m in function.sqs_mappings]
        events += [f"schedule {s.expression}" for s in function.schedules]
        lines.append(f"  {function.logical_id:<28} {', '.join(events) or '(invoke only)'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.runner", description=__doc__.splitlines()[0])
    parser.add_argument("--api-port", type=int, default=_port("api"))
    parser.add_argument("--lambda-port", type=int, default=_port("lambda"))
    parser.add_argument("--bind-host", default=os.environ.get("LOCAL_BIND_HOST", LOOPBACK),
                        help="address every server listens on (0.0.0.0: reachable from containers)")
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
                       log_prefix=True, bind_host=args.bind_host).start()
    lambda_api: LambdaApi | None = None
    try:
        lambda_api = LambdaApi(stack, EventFiller(stack), port=args.lambda_port)
        print(_summary(stack, lambda_api, write_credentials(stack)), flush=True)
        print("Ctrl-C to stop.", flush=True)
        while not stopped.wait(0.5):
            pass
    finally:
        if lambda_api is not None:
            lambda_api.stop()
        CREDENTIALS.unlink(missing_ok=True)
        stack.stop()
    print("stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
