"""The whole serverless stack on one machine, without Docker and without an AWS account.

`sam local` needs a container runtime, which these machines lack, so this module plays the
parts of AWS itself, driven by template.yaml (the one source of truth for functions,
environment, events and resources):

- moto's server stands in for DynamoDB, SQS and Secrets Manager; every table, queue (with
  its redrive policy) and secret of the template is created there, named by logical id;
  DynamoDB alone can be sent to another engine (`dynamodb_endpoint`, e.g. bench.engine's
  dynalite for benchmarks) through the service-specific AWS_ENDPOINT_URL_DYNAMODB, which
  boto3, PynamoDB and Powertools honour over AWS_ENDPOINT_URL;
- the Temu and WholeCell sandboxes stand in for the two external APIs;
- every function runs in its own warm worker process (local.workers) with the template's
  environment resolved against those local resources;
- an HTTP server plays API Gateway's HTTP API (local.http_api), a poller per SQS event
  plays Lambda's event source mapping (batches, partial batch failures, DLQ after
  maxReceiveCount), and a timer per ScheduleV2 event plays EventBridge Scheduler.

By default every function has one worker and every SQS event one poller, so invocations of
a function never overlap. `concurrency=N` plays Lambda's concurrency instead: up to N
batches of each SQS event under way at once (capped by its MaximumConcurrency; one receiver
hands each batch to a thread of its own, so an idle queue costs one long poll whatever N is;
`set_concurrency` changes N while running) and as many warm workers per function as
invocations run at once; a message is then received for the queue's own visibility timeout
while its invocation runs, and made visible again after `retry_visibility_timeout` when it
fails. `function_timeouts` overrides functions'
Timeout (a chaos run compresses time), and `kill_busy_worker` / `kill_worker_on_port`
kill a worker in the middle of an invocation, as a crashed Lambda would be.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import json
import json as _json  # `http` has a parameter named json
import logging
import os
import random
import secrets
import string
import sys
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from werkzeug.serving import BaseWSGIServer, make_server

from local import iam, moto_fixes
from local.http_api import Route, SigV4Check, wsgi_app
from local.iam import Credentials
from local.sandboxes.common import RunningServer
from local.template import ACCOUNT_ID, REGION, Function, SqsMapping, Template, load_template, queue_arn
from local.workers import FunctionTimeout, InvocationError, Worker, WorkerCrashed, WorkerSpec

TEMU_ROUTER_PATH = "/openapi/router"
TEMU_AUTHORIZE_PATH = "/open-platform/client-manage/authorization"
WHOLECELL_API_PATH = "/api/v1"
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
DEFAULT_PORTS = {"api": 3000, "moto": 4566, "temu": 7001, "wholecell": 7002, "lambda": 3001}
DOCKER_HOST = "host.docker.internal"
LOOPBACK = "127.0.0.1"


def reachable_host(bind_host: str) -> str:
    """The address to call a server bound to `bind_host` at (every interface: loopback)."""
    return LOOPBACK if bind_host in ("", "0.0.0.0", "::") else bind_host


def moto_queue_url(endpoint: str, name: str) -> str:
    """The URL moto gives a queue: endpoint / account / name."""
    return f"{endpoint.rstrip('/')}/{ACCOUNT_ID}/{name}"


def external_environment(temu_url: str, wholecell_url: str) -> dict[str, str]:
    """The variables that point a function at the two external APIs (sandbox base URLs)."""
    return {
        "TEMU_GATEWAY_URL": temu_url + TEMU_ROUTER_PATH,
        "TEMU_AUTHORIZE_URL": temu_url + TEMU_AUTHORIZE_PATH,
        "WHOLECELL_API_URL": wholecell_url + WHOLECELL_API_PATH,
    }


def local_environment(template: Template, function: Function, *, aws_endpoint: str,
                      queue_urls: Mapping[str, str], secret_ids: Mapping[str, str],
                      external: Mapping[str, str]) -> dict[str, str]:
    """A function's environment: the template's, resolved locally, plus the local endpoints."""
    env = template.resolver(queue_urls, secret_ids).environment(function.environment)
    env.update({
        "AWS_ENDPOINT_URL": aws_endpoint,
        **DUMMY_CREDENTIALS,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        **external,
        "TEMU_APP_KEY": os.environ.get("TEMU_APP_KEY", "sandbox-app-key"),
        "TEMU_APP_SECRET": os.environ.get("TEMU_APP_SECRET", "sandbox-app-secret"),
        "TEMU_APP_SECRET_ARN": "",  # locally the app credentials come from TEMU_APP_KEY/SECRET
        "POWERTOOLS_TRACE_DISABLED": "true",
    })
    return env


def env_json(template: Template) -> dict[str, dict[str, str]]:
    """`sam local invoke --env-vars` content: every function pointed at the runner's default ports.

    Secrets are referenced by name (Secrets Manager accepts a name wherever it takes an ARN),
    because moto's ARNs end in a random suffix.
    """
    endpoint = f"http://{DOCKER_HOST}:{DEFAULT_PORTS['moto']}"
    queue_urls = {q: moto_queue_url(endpoint, template.queues[q].name) for q in template.queues}
    secret_ids = {s: template.secrets[s].name for s in template.secrets}
    external = external_environment(f"http://{DOCKER_HOST}:{DEFAULT_PORTS['temu']}",
                                    f"http://{DOCKER_HOST}:{DEFAULT_PORTS['wholecell']}")
    result = {}
    for logical_id, function in template.functions.items():
        env = local_environment(template, function, aws_endpoint=endpoint, queue_urls=queue_urls,
                                secret_ids=secret_ids, external=external)
        env.pop("AWS_REGION")  # reserved: SAM sets it from --region
        env["TEMU_APP_KEY"], env["TEMU_APP_SECRET"] = "sandbox-app-key", "sandbox-app-secret"
        result[logical_id] = dict(sorted(env.items()))
    return result


def render_env_json(template: Template) -> str:
    return json.dumps(env_json(template), indent=2) + "\n"


class LocalStack:
    """Starts and stops the local stack; helpers drive it from tests and the demo."""

    retry_visibility_timeout = 2  # seconds a failed SQS message stays invisible before a retry
    poll_wait_seconds = 1  # SQS long poll per receive

    def __init__(self, project_root: Path, template_path: Path | None = None, *,
                 api_port: int | None = None, schedule_seconds: float = 0,
                 env_overrides: dict[str, str] | None = None, parameters: dict[str, str] | None = None,
                 moto_port: int = 0, temu_port: int = 0, wholecell_port: int = 0,
                 log_prefix: bool = False, dynamodb_endpoint: str | None = None,
                 concurrency: int = 1, function_timeouts: Mapping[str, float] | None = None,
                 worker_output: Path | None = None, enforce_iam: bool = True,
                 bind_host: str = LOOPBACK, verify_sigv4: bool = False, worker_niceness: int = 0) -> None:
        self.project_root = project_root.resolve()
        self.template = load_template(template_path or self.project_root / "template.yaml", parameters)
        self.api_port = int(os.environ.get("LOCAL_API_PORT", DEFAULT_PORTS["api"])) if api_port is None \
            else api_port
        self.schedule_seconds = schedule_seconds
        self.env_overrides = dict(env_overrides or {})
        self.log_prefix = log_prefix
        self.concurrency = max(1, int(concurrency))  # invocations of one function at once (see module doc)
        self.function_timeouts = dict(function_timeouts or {})  # logical id -> seconds, over the template's
        self.worker_output = worker_output  # every worker's stdout and stderr appended here (default: ours)
        # above 0: when the machine is short of CPU, the stand-ins for AWS and the two APIs (which run on
        # other machines in reality) run before the functions' workers (benchmarks on a small machine)
        self.worker_niceness = worker_niceness
        # each function calls AWS with exactly its template role's policies (local/iam.py); only with
        # the stack's own moto (an external endpoint enforces, or not, by itself)
        self.enforce_iam = enforce_iam
        self.function_credentials: dict[str, Credentials] = {}
        self._iam_enforced: contextlib.ExitStack | None = None
        unknown = set(self.function_timeouts) - set(self.template.functions)
        if unknown:
            raise ValueError(f"function_timeouts for unknown functions: {sorted(unknown)}")
        # deliveries, redeliveries, failed_invocations, failed_items, function_timeouts, worker_crashes,
        # workers_killed: what happened to SQS messages and workers (read by chaos runs)
        self.stats: Counter[str] = Counter()
        self._ports = {"moto": moto_port, "temu": temu_port, "wholecell": wholecell_port}
        # the address every server listens on (moto, sandboxes, HTTP API); 0.0.0.0 makes them reachable
        # from containers too (`sam local invoke`, README); URLs name `reachable_host(bind_host)`
        self.bind_host = bind_host
        # the HTTP API verifies the SigV4 signature of AWS_IAM routes (local.http_api.SigV4Check) against
        # the dummy pair and the harness's credentials, as API Gateway would; `http` then signs its requests
        self.verify_sigv4 = verify_sigv4

        self.endpoint_url = ""  # moto (or AWS_ENDPOINT_URL): SQS, Secrets Manager and, by default, DynamoDB
        # DynamoDB only (tables included), when given or in AWS_ENDPOINT_URL_DYNAMODB; else endpoint_url
        self.dynamodb_endpoint = dynamodb_endpoint
        self.dynamodb_endpoint_url = ""  # where DynamoDB traffic goes
        self.api_url = ""
        self.temu: RunningServer | None = None
        self.wholecell: RunningServer | None = None
        self.temu_gateway_url = ""
        self.temu_authorize_url = ""
        self.wholecell_api_url = ""
        self.queue_urls: dict[str, str] = {}
        self.secret_arns: dict[str, str] = {}
        self.environments: dict[str, dict[str, str]] = {}

        self._moto: Any = None
        self._api_server: BaseWSGIServer | None = None
        self._workers: dict[str, Worker] = {}  # the first (warm) worker of each function
        self._more_workers: dict[str, list[Worker]] = {}  # more of them, with concurrency > 1
        self._checked_out: set[int] = set()  # id() of workers inside an invocation (concurrency > 1)
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._delivering = threading.Event()
        self._lock = threading.Lock()
        self._notice_lock = threading.Lock()
        self._in_flight = 0  # deliveries and scheduled invocations under way
        self._started = 0  # deliveries and scheduled invocations ever started
        self._polling = 0  # pollers inside a receive or a delivery
        self._invocations: dict[int, tuple[str, float]] = {}  # deliveries under way: (function, monotonic start)
        # concurrency > 1: batches under way per SQS event (each in a thread of its own) and their threads
        self._slots_changed = threading.Condition()
        self._busy_slots: Counter[str] = Counter()
        self._batches: set[threading.Thread] = set()
        self._saved_environ: dict[str, str | None] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
        self._stopping.clear()
        try:
            with iam.bootstrapping() if self._owns_moto else contextlib.nullcontext():
                self._start_aws()
                self._create_resources()
                if self.enforce_iam and self._moto is not None:
                    self._create_identities()
            if self.function_credentials:
                self._iam_enforced = contextlib.ExitStack()
                self._iam_enforced.enter_context(iam.enforced())
            self._start_sandboxes()
            external = {"TEMU_GATEWAY_URL": self.temu_gateway_url, "TEMU_AUTHORIZE_URL": self.temu_authorize_url,
                        "WHOLECELL_API_URL": self.wholecell_api_url}
            for logical_id, function in self.template.functions.items():
                env = local_environment(self.template, function, aws_endpoint=self.endpoint_url,
                                        queue_urls=self.queue_urls, secret_ids=self.secret_arns,
                                        external=external)
                if self.dynamodb_endpoint_url != self.endpoint_url:
                    env["AWS_ENDPOINT_URL_DYNAMODB"] = self.dynamodb_endpoint_url
                if logical_id in self.function_credentials:
                    env |= self.function_credentials[logical_id].environment()
                self.environments[logical_id] = env | self.env_overrides
            self._start_api()
            self._delivering.set()
            for function in self.template.functions.values():
                for mapping in function.sqs_mappings:
                    self._spawn(f"sqs-{function.logical_id}-{mapping.event}",
                                self._poll if self.concurrency == 1 else self._dispatch, function, mapping)
                if self.schedule_seconds > 0 and any(schedule.enabled for schedule in function.schedules):
                    self._spawn(f"schedule-{function.logical_id}", self._tick, function)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._delivering.set()
        if self._api_server is not None:
            self._api_server.shutdown()
            self._api_server.server_close()
            self._api_server = None
        for thread in self._threads:
            thread.join(timeout=self.poll_wait_seconds + 10)
        self._threads.clear()
        for worker in [*self._workers.values(), *(w for pool in self._more_workers.values() for w in pool)]:
            worker.stop()
        with self._slots_changed:
            batches = list(self._batches)
        for thread in batches:  # their invocations end now that the workers are gone
            thread.join(timeout=10)
        self._workers.clear()
        self._more_workers.clear()
        self._checked_out.clear()
        for server in (self.temu, self.wholecell):
            if server is not None:
                server.stop()
        self.temu = self.wholecell = None
        if self._iam_enforced is not None:
            self._iam_enforced.close()
            self._iam_enforced = None
        self.function_credentials.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        for key, value in self._saved_environ.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environ.clear()

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _set_environ(self, key: str, value: str) -> None:
        self._saved_environ.setdefault(key, os.environ.get(key))
        os.environ[key] = value

    def _start_aws(self) -> None:
        endpoint = os.environ.get("AWS_ENDPOINT_URL")
        if not endpoint:
            from moto.server import ThreadedMotoServer  # noqa: PLC0415 - only when no endpoint is given

            moto_fixes.serialize_sqs_queue_access()
            self._moto = ThreadedMotoServer(ip_address=self.bind_host, port=self._ports["moto"], verbose=False)
            self._moto.start()
            _, port = self._moto.get_host_and_port()
            endpoint = f"http://{reachable_host(self.bind_host)}:{port}"
            # moto's backends live in this process: start every stack from a clean slate
            requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        for key, value in DUMMY_CREDENTIALS.items():
            if self._moto is not None or not os.environ.get(key):  # real credentials never reach moto
                self._set_environ(key, value)
        self.endpoint_url = endpoint
        self._set_environ("AWS_ENDPOINT_URL", endpoint)
        self.dynamodb_endpoint_url = (self.dynamodb_endpoint or os.environ.get("AWS_ENDPOINT_URL_DYNAMODB")
                                      or endpoint)
        self._set_environ("AWS_ENDPOINT_URL_DYNAMODB", self.dynamodb_endpoint_url)  # in-process code too
        self._set_environ("AWS_DEFAULT_REGION", REGION)
        self._set_environ("AWS_REGION", REGION)

    @property
    def _owns_moto(self) -> bool:
        """This stack starts moto in-process (no AWS_ENDPOINT_URL given)."""
        return self._moto is not None or not os.environ.get("AWS_ENDPOINT_URL")

    def _create_identities(self) -> None:
        """Once the stack runs, every call to moto is checked: functions with their role's
        policies, the harness (this process, the runner, tests) as an administrator."""
        policies = iam.function_policies(self.template.path, self.template.parameters)
        resolver = self.template.resolver(self.queue_urls, self.secret_arns)
        admin, self.function_credentials = iam.create_identities(self.endpoint_url, policies, resolver)
        for key, value in admin.environment().items():
            self._set_environ(key, value)

    def client(self, service: str) -> Any:
        """A boto3 client for the local AWS endpoint (DynamoDB: `dynamodb_endpoint_url`)."""
        endpoint = self.dynamodb_endpoint_url if service == "dynamodb" else self.endpoint_url
        return boto3.client(service, endpoint_url=endpoint, region_name=REGION,  # type: ignore[call-overload]
                            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])

    def _create_resources(self) -> None:
        dynamodb, sqs, sm = self.client("dynamodb"), self.client("sqs"), self.client("secretsmanager")
        for table in self.template.tables.values():
            args: dict[str, Any] = {"TableName": table.name, "KeySchema": table.key_schema,
                                    "AttributeDefinitions": table.attribute_definitions,
                                    "BillingMode": "PAY_PER_REQUEST"}
            if table.global_secondary_indexes:
                args["GlobalSecondaryIndexes"] = [
                    {k: v for k, v in gsi.items() if k != "ProvisionedThroughput"}
                    for gsi in table.global_secondary_indexes]
            try:
                dynamodb.create_table(**args)
            except dynamodb.exceptions.ResourceInUseException:
                continue  # an external endpoint that already has it
            if table.ttl_attribute:
                try:
                    dynamodb.update_time_to_live(TableName=table.name, TimeToLiveSpecification={
                        "AttributeName": table.ttl_attribute, "Enabled": True})
                except dynamodb.exceptions.ClientError as exc:  # dynalite has no TTL; nothing expires locally
                    if exc.response.get("Error", {}).get("Code") != "UnknownOperationException":
                        raise
        for queue in self.template.queues.values():
            attributes = {"VisibilityTimeout": str(queue.visibility_timeout)} if queue.visibility_timeout else {}
            self.queue_urls[queue.logical_id] = sqs.create_queue(QueueName=queue.name,
                                                                 Attributes=attributes)["QueueUrl"]
        for queue in self.template.queues.values():
            if queue.dead_letter_queue:
                policy = {"deadLetterTargetArn": queue_arn(self.template.queues[queue.dead_letter_queue].name),
                          "maxReceiveCount": queue.max_receive_count}
                sqs.set_queue_attributes(QueueUrl=self.queue_urls[queue.logical_id],
                                         Attributes={"RedrivePolicy": json.dumps(policy)})
        for secret in self.template.secrets.values():
            value = secret.secret_string
            if value is None:
                document = json.loads(secret.generate_template or "{}")
                alphabet = string.ascii_letters + string.digits
                generated = "".join(secrets.choice(alphabet) for _ in range(32))
                if secret.generate_key:
                    document[secret.generate_key] = generated
                value = json.dumps(document) if secret.generate_key else generated
            try:
                arn = sm.create_secret(Name=secret.name, SecretString=value)["ARN"]
            except sm.exceptions.ResourceExistsException:
                arn = sm.describe_secret(SecretId=secret.name)["ARN"]
            self.secret_arns[secret.logical_id] = arn

    def _start_sandboxes(self) -> None:
        temu_url = os.environ.get("TEMU_GATEWAY_URL")
        if temu_url:
            base = temu_url.removesuffix(TEMU_ROUTER_PATH)
            self.temu_gateway_url = temu_url
            self.temu_authorize_url = os.environ.get("TEMU_AUTHORIZE_URL", base + TEMU_AUTHORIZE_PATH)
        else:
            self.temu = self._sandbox("temu")
            self.temu_gateway_url = self.temu.url + TEMU_ROUTER_PATH
            self.temu_authorize_url = self.temu.url + TEMU_AUTHORIZE_PATH
        wholecell_url = os.environ.get("WHOLECELL_API_URL")
        if wholecell_url:
            self.wholecell_api_url = wholecell_url.rstrip("/")
        else:
            self.wholecell = self._sandbox("wholecell")
            self.wholecell_api_url = self.wholecell.url + WHOLECELL_API_PATH

    def _sandbox(self, name: str) -> RunningServer:
        module = importlib.import_module(f"local.sandboxes.{name}")  # written separately; loaded on use
        options: dict[str, Any] = {}
        if name == "temu" and "TEMU_APP_KEY" in os.environ:  # the functions sign with these
            options["app_keys"] = {os.environ["TEMU_APP_KEY"]: os.environ.get("TEMU_APP_SECRET", "")}
        server: RunningServer = module.serve(host=self.bind_host, port=self._ports[name], **options)
        server.url = f"http://{reachable_host(self.bind_host)}:{server.port}"
        return server

    def _start_api(self) -> None:
        routes = [Route(f.logical_id, r) for f in self.template.functions.values() for r in f.http_routes]
        sigv4 = None
        if self.verify_sigv4:
            known = {DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"]: DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                     os.environ["AWS_ACCESS_KEY_ID"]: os.environ["AWS_SECRET_ACCESS_KEY"]}  # the harness's
            sigv4 = SigV4Check(REGION, known)
        app = wsgi_app(routes, self.invoke, lambda: self.api_url.removeprefix("http://"), sigv4)
        self._api_server = make_server(self.bind_host, self.api_port, app, threaded=True)
        self.api_url = f"http://{reachable_host(self.bind_host)}:{self._api_server.server_port}"
        self._spawn("http-api", self._api_server.serve_forever)

    def _notice(self, text: str) -> None:
        """The stack's own notices: stderr, or with `worker_output` that file (next to the workers' output)."""
        if self.worker_output is None:
            print(text, file=sys.stderr)
            return
        with self._notice_lock, self.worker_output.open("a") as output:
            output.write(text + "\n")

    def _spawn(self, name: str, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # ------------------------------------------------------------------ invocation

    def _new_worker(self, function_logical_id: str) -> Worker:
        function = self.template.functions[function_logical_id]
        code_dir = (self.template.root / function.code_uri).resolve()
        timeout = float(self.function_timeouts.get(function_logical_id, function.timeout))
        return Worker(WorkerSpec(
            function_logical_id, function.handler, code_dir,
            (self.project_root / "layers" / "common",), self.environments[function_logical_id],
            timeout, function.memory_size, self.log_prefix, self.worker_output, self.worker_niceness))

    def worker(self, function_logical_id: str) -> Worker:
        """The (lazily started, then warm) worker of a function (its first one, with concurrency)."""
        with self._lock:
            if function_logical_id not in self._workers:
                self._workers[function_logical_id] = self._new_worker(function_logical_id)
            return self._workers[function_logical_id]

    def invoke(self, function_logical_id: str, event: Any) -> Any:
        """Invoke a function synchronously; raises local.workers.InvocationError if it fails."""
        with self._checked_out_worker(function_logical_id) as worker:
            return worker.invoke(event)

    def invoke_logged(self, function_logical_id: str, event: Any) -> tuple[Any, str]:
        """`invoke`, plus what the function printed during the invocation: (result, logs); a
        failure's InvocationError carries them in `logs` (local.workers.Worker.invoke_logged)."""
        with self._checked_out_worker(function_logical_id) as worker:
            return worker.invoke_logged(event)

    @contextlib.contextmanager
    def _checked_out_worker(self, function_logical_id: str) -> Iterator[Worker]:
        first = self.worker(function_logical_id)
        if self.concurrency == 1:
            yield first
            return
        with self._lock:  # an idle warm worker, else a new one (a cold start), as Lambda scales out
            pool = self._more_workers.setdefault(function_logical_id, [])
            worker = next((w for w in [first, *pool] if id(w) not in self._checked_out), None)
            if worker is None:
                worker = self._new_worker(function_logical_id)
                pool.append(worker)
            self._checked_out.add(id(worker))
        try:
            yield worker
        finally:
            with self._lock:
                self._checked_out.discard(id(worker))

    def reconfigure(self, function_logical_id: str, environment: Mapping[str, str]) -> None:
        """New environment variables for a function, as a Lambda configuration change: its idle workers
        stop, so its next invocations are cold starts with them (call it while the function is idle)."""
        with self._lock:
            self.environments[function_logical_id] = dict(environment)
            first = self._workers.pop(function_logical_id, None)
            stopped = ([first] if first is not None else []) + self._more_workers.pop(function_logical_id, [])
        for worker in stopped:
            worker.stop()

    def workers(self, function_logical_id: str | None = None) -> list[Worker]:
        """The workers started for a function (every function's when None)."""
        with self._lock:
            names = [function_logical_id] if function_logical_id else sorted({*self._workers, *self._more_workers})
            return [w for name in names for w in ([self._workers[name]] if name in self._workers else [])
                    + self._more_workers.get(name, [])]

    def kill_busy_worker(self, rng: random.Random, functions: Collection[str] | None = None) -> str | None:
        """Kill one worker that is inside an invocation (of `functions`, default any), chosen with
        `rng`; returns its function's logical id, or None when none was busy."""
        candidates = [w for w in self.workers() if (functions is None or w.spec.function_name in functions)
                      and w.busy and w.pid is not None]
        if not candidates:
            return None
        worker = rng.choice(candidates)
        if not worker.kill():
            return None
        with self._lock:
            self.stats["workers_killed"] += 1
        return worker.spec.function_name

    def kill_worker_on_port(self, port: int | None) -> str | None:
        """Kill the worker whose process owns the client end of a local TCP connection from `port`
        (a sandbox knows its caller only by that port). Linux (/proc) only; None when not found."""
        if port is None:
            return None
        inodes = _socket_inodes(port)
        if not inodes:
            return None
        for worker in self.workers():
            pid = worker.pid
            if pid is not None and _owns_socket(pid, inodes) and worker.kill():
                with self._lock:
                    self.stats["workers_killed"] += 1
                return worker.spec.function_name
        return None

    def fire_schedule(self, function_logical_id: str) -> list[Any]:
        """Invoke a function once per ScheduleV2 event it has, with that schedule's Input."""
        function = self.template.functions[function_logical_id]
        if not function.schedules:
            raise ValueError(f"{function_logical_id} has no schedule")
        with self._delivery():
            return [self.invoke(function_logical_id, schedule.input) for schedule in function.schedules]

    @contextlib.contextmanager
    def _delivery(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self._started += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def _tick(self, function: Function) -> None:
        while not self._stopping.wait(self.schedule_seconds):
            for schedule in function.schedules:
                if not schedule.enabled:
                    continue
                try:
                    with self._delivery():
                        self.invoke(function.logical_id, schedule.input)
                except InvocationError as exc:
                    self._notice(f"[local] scheduled {exc}")

    def _pollers(self, mapping: SqsMapping) -> int:
        """Invocations of one SQS event at once: the stack's concurrency, capped by the event's MaximumConcurrency."""
        if self.concurrency == 1:
            return 1
        return max(1, min(self.concurrency, mapping.maximum_concurrency or self.concurrency))

    def set_concurrency(self, concurrency: int) -> None:
        """Change how many invocations of each SQS event run at once (a stack started with concurrency > 1;
        batches already under way finish). Still capped by each event's MaximumConcurrency."""
        if self.concurrency == 1 or concurrency < 2:
            raise ValueError("set_concurrency needs a stack started with concurrency > 1, and a value above 1")
        with self._slots_changed:
            self.concurrency = int(concurrency)
            self._slots_changed.notify_all()

    def _receive_visibility(self, queue_logical_id: str) -> int:
        """How long a received message stays invisible. With one poller per queue, the retry delay
        (nobody else could receive it meanwhile); with several, the queue's visibility timeout, as
        in AWS, so a long invocation's message is not delivered twice (see `_retry_later`)."""
        if self.concurrency == 1:
            return self.retry_visibility_timeout
        return self.template.queues[queue_logical_id].visibility_timeout or 30

    def _retry_later(self, sqs: Any, url: str, messages: list[dict[str, Any]]) -> None:
        """Failed messages come back after `retry_visibility_timeout` (concurrency > 1; otherwise
        the receive's own visibility timeout already is that)."""
        if self.concurrency == 1 or not messages:
            return
        try:
            answer = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_visibility_timeout}
                for i, m in enumerate(messages)])
        except Exception as exc:  # they come back after the queue's visibility timeout instead
            self._notice(f"[local] could not make {len(messages)} failed messages visible again: {exc!r}")
            return
        if answer.get("Failed"):  # a batch call answers per entry, without raising
            self._notice(f"[local] could not make failed messages visible again: {answer['Failed']}")

    def _poll(self, function: Function, mapping: SqsMapping) -> None:
        sqs = self.client("sqs")
        url = self.queue_urls[mapping.queue]
        visibility = self._receive_visibility(mapping.queue)
        while not self._stopping.is_set():
            if not self._delivering.wait(0.2):
                continue
            with self._lock:
                self._polling += 1
            try:
                messages = self._receive(sqs, url, mapping, visibility)
                if messages and not self._stopping.is_set():
                    with self._delivery():
                        self._deliver(sqs, url, function, mapping, messages)
            except Exception as exc:  # keep polling, as the real event source mapping does
                self._polling_failed(mapping, exc)  # what was received comes back after the retry delay
            finally:
                with self._lock:
                    self._polling -= 1

    def _receive(self, sqs: Any, url: str, mapping: SqsMapping, visibility: int) -> list[dict[str, Any]]:
        return list(sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=min(mapping.batch_size, 10),
            WaitTimeSeconds=self.poll_wait_seconds, VisibilityTimeout=visibility,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", []))

    def _polling_failed(self, mapping: SqsMapping, exc: Exception) -> None:
        if not self._stopping.is_set():
            self._notice(f"[local] polling {mapping.queue} failed: {exc!r}")
            self._stopping.wait(1)

    def _dispatch(self, function: Function, mapping: SqsMapping) -> None:
        """concurrency > 1, as Lambda's event source mapping scales: one receiver per SQS event hands each
        batch to a thread of its own while fewer than `_pollers(mapping)` batches are under way (an idle
        queue costs one long poll at a time, however high the concurrency)."""
        sqs = self.client("sqs")
        url = self.queue_urls[mapping.queue]
        visibility = self._receive_visibility(mapping.queue)
        key = f"{function.logical_id}/{mapping.event}"
        while not self._stopping.is_set():
            if not self._delivering.wait(0.2):
                continue
            with self._slots_changed:
                if self._busy_slots[key] >= self._pollers(mapping):
                    self._slots_changed.wait(0.2)
                    continue
                self._busy_slots[key] += 1
                self._polling += 1
            handed_over = False
            messages: list[dict[str, Any]] = []
            try:
                messages = self._receive(sqs, url, mapping, visibility)
                if messages and not self._stopping.is_set():
                    thread = threading.Thread(target=self._batch, args=(sqs, url, function, mapping, messages),
                                              kwargs={"key": key}, name=f"batch-{key}", daemon=True)
                    with self._slots_changed:
                        self._batches.add(thread)
                    thread.start()
                    handed_over = True
            except Exception as exc:  # keep polling, as the real event source mapping does
                self._retry_later(sqs, url, messages)  # a failure of ours: what was received comes back soon
                self._polling_failed(mapping, exc)
            finally:
                if not handed_over:
                    self._release_slot(key)

    def _batch(self, sqs: Any, url: str, function: Function, mapping: SqsMapping, messages: list[dict[str, Any]],
               *, key: str) -> None:
        try:
            with self._delivery():
                self._deliver(sqs, url, function, mapping, messages)
        except Exception as exc:  # a failure of the stack's, not the function's: the batch comes back soon
            if not self._stopping.is_set():
                self._notice(f"[local] delivering to {function.logical_id} failed: {exc!r}")
                self._retry_later(sqs, url, messages)
        finally:
            self._release_slot(key)
            with self._slots_changed:
                self._batches.discard(threading.current_thread())

    def _release_slot(self, key: str) -> None:
        with self._slots_changed:
            self._busy_slots[key] -= 1
            self._polling -= 1
            self._slots_changed.notify_all()

    def _deliver(self, sqs: Any, url: str, function: Function, mapping: SqsMapping,
                 messages: list[dict[str, Any]]) -> None:
        """One batch, as Lambda's event source mapping: delete what succeeded, leave the rest to retry."""
        arn = queue_arn(self.template.queues[mapping.queue].name)
        event = {"Records": [sqs_record(m, arn) for m in messages]}
        with self._lock:
            self.stats["deliveries"] += len(messages)
            self.stats["redeliveries"] += sum(
                1 for m in messages if int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")) > 1)
        token = object()
        with self._lock:
            self._invocations[id(token)] = (function.logical_id, time.monotonic())
        try:
            result = self.invoke(function.logical_id, event)
        except InvocationError as exc:
            with self._lock:
                self.stats["failed_invocations"] += 1
                if isinstance(exc, FunctionTimeout):
                    self.stats["function_timeouts"] += 1
                elif isinstance(exc, WorkerCrashed):
                    self.stats["worker_crashes"] += 1
            self._notice(f"[local] {mapping.queue} batch of {len(messages)} failed: {exc}")
            self._retry_later(sqs, url, messages)
            return
        finally:
            with self._lock:
                self._invocations.pop(id(token), None)
        failed: set[str] = set()
        if mapping.report_batch_item_failures and isinstance(result, dict):
            failed = {str(f.get("itemIdentifier")) for f in result.get("batchItemFailures") or []}
            if not failed <= {m["MessageId"] for m in messages}:
                self._notice(f"[local] {function.logical_id}: invalid batchItemFailures {sorted(failed)}; "
                             "the whole batch is retried")
                self._retry_later(sqs, url, messages)
                return
        with self._lock:
            self.stats["failed_items"] += len(failed)
        self._retry_later(sqs, url, [m for m in messages if m["MessageId"] in failed])
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            answer = sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
            if answer.get("Failed"):
                self._notice(f"[local] {mapping.queue}: could not delete processed messages: {answer['Failed']}")

    # ------------------------------------------------------------------ helpers

    def pause(self, timeout: float = 30) -> None:
        """Stop delivering SQS messages; returns once no poller is receiving or delivering."""
        self._delivering.clear()
        deadline = time.monotonic() + timeout
        while self._polling and time.monotonic() < deadline:
            time.sleep(0.05)

    def resume(self) -> None:
        self._delivering.set()

    def drain(self, timeout: float = 60) -> None:
        """Deliver until every consumer queue is empty and nothing is in flight (pollers resume meanwhile)."""
        was_delivering = self._delivering.is_set()
        self._delivering.set()
        deadline = time.monotonic() + timeout
        sqs = self.client("sqs")
        consumed = {m.queue for f in self.template.functions.values() for m in f.sqs_mappings}
        try:
            while True:
                with self._lock:
                    started, idle = self._started, self._in_flight == 0
                depth = {q: self._depth(sqs, q) for q in sorted(consumed)}
                with self._lock:
                    if idle and self._in_flight == 0 and self._started == started and not any(depth.values()):
                        return
                if time.monotonic() > deadline:
                    detail = {q: self._depth_detail(sqs, q) for q, n in depth.items() if n}
                    raise TimeoutError(f"queues not drained after {timeout} s: {detail}; {self._under_way()}")
                time.sleep(0.1)
        finally:
            if not was_delivering:
                self._delivering.clear()

    def _under_way(self) -> str:
        """What the stack is doing, for a drain that timed out: invocations from SQS and how long they have run."""
        now = time.monotonic()
        with self._lock:
            running = sorted((f"{name} {now - began:.0f} s" for name, began in self._invocations.values()))
            in_flight, polling = self._in_flight, self._polling
        busy = [f"{w.spec.function_name}(pid {w.pid})" for w in self.workers() if w.busy]
        return (f"in flight {in_flight}, pollers busy {polling}, SQS invocations {running or 'none'}, "
                f"busy workers {busy or 'none'}")

    def _depth(self, sqs: Any, logical_id: str) -> int:
        return sum(self._depth_detail(sqs, logical_id).values())

    def _depth_detail(self, sqs: Any, logical_id: str) -> dict[str, int]:
        """Messages visible, in flight (received, not deleted) and delayed."""
        names = {"visible": "ApproximateNumberOfMessages", "in_flight": "ApproximateNumberOfMessagesNotVisible",
                 "delayed": "ApproximateNumberOfMessagesDelayed"}
        attributes = sqs.get_queue_attributes(QueueUrl=self.queue_urls[logical_id], AttributeNames=list(names.values()))
        return {key: int(attributes["Attributes"].get(name, 0)) for key, name in names.items()}

    def queue_url(self, logical_id: str) -> str:
        return self.queue_urls[logical_id]

    def dlq_messages(self, logical_id: str) -> list[dict[str, Any]]:
        """Messages in the dead-letter queue of queue `logical_id` (or in `logical_id` if it is a DLQ).

        They are peeked (received with visibility timeout 0), so they stay in the queue.
        """
        queue = self.template.queues[logical_id]
        url = self.queue_urls[queue.dead_letter_queue or logical_id]
        sqs, found = self.client("sqs"), {}
        for _ in range(10):
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                        MessageSystemAttributeNames=["All"],
                                        MessageAttributeNames=["All"]).get("Messages", [])
            found.update({m["MessageId"]: m for m in batch})
            if len(batch) < 10:
                break
        return list(found.values())

    def http(self, method: str, path: str, json: Any = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        """A request to the local HTTP API (signed with the harness's credentials when it verifies SigV4)."""
        if not self.verify_sigv4:
            return requests.request(method, self.api_url + path, json=json, headers=headers, timeout=60)
        body = b"" if json is None else _json.dumps(json).encode()
        signing = AWSRequest(method=method, url=self.api_url + path, data=body, headers={
            **({"Content-Type": "application/json"} if json is not None else {}), **(headers or {})})
        SigV4Auth(BotoCredentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
                  "execute-api", REGION).add_auth(signing)
        return requests.request(method, self.api_url + path, data=body or None, headers=dict(signing.headers.items()),
                                timeout=60)

    def connect_shop(self, mall_id: int, wholecell: Mapping[str, str], name: str = "Shop",
                     region: str = "US") -> str:
        """Create a connection and authorize it for a sandbox shop; returns the connection id."""
        connection_id = str(self.create_connection(wholecell, name, region)["connection_id"])
        self.authorize(connection_id, mall_id)
        return connection_id

    def connect_with_webhook(self, mall_id: int, wholecell: Mapping[str, str], name: str,
                             settings: Mapping[str, Any]) -> dict[str, Any]:
        """A connection authorized for a sandbox shop, with `settings`, whose WholeCell sandbox account posts
        its shipments to the connection's webhook; returns POST /admin/connections' answer (webhook URL, secret)."""
        assert self.wholecell is not None, "needs the stack's own WholeCell sandbox"
        created = self.create_connection(wholecell, name)
        connection_id = str(created["connection_id"])
        self.authorize(connection_id, mall_id)
        answer = self.http("PUT", f"/admin/connections/{connection_id}/settings", json=dict(settings))
        if answer.status_code != 200:
            raise RuntimeError(f"PUT settings answered {answer.status_code}: {answer.text[:300]}")
        self.wholecell.state.configure_webhook(wholecell["app_id"], created["webhook_url"], [created["webhook_secret"]])
        return created

    def create_connection(self, wholecell: Mapping[str, str], name: str = "Shop",
                          region: str = "US") -> dict[str, Any]:
        """POST /admin/connections; the answer holds the webhook URL and secret (shown once)."""
        response = self.http("POST", "/admin/connections",
                             json={"name": name, "temu_region": region, "wholecell": dict(wholecell)})
        response.raise_for_status()
        return dict(response.json())

    def authorize(self, connection_id: str, mall_id: int) -> None:
        """Authorize a connection for a sandbox shop as the seller's browser would, with a link the
        admin API issued (authorize redirect, Temu's page, our callback)."""
        link = self.http("POST", f"/admin/connections/{connection_id}/authorize-link")
        link.raise_for_status()
        redirect = requests.get(link.json()["authorize_url"], allow_redirects=False, timeout=30).headers["Location"]
        callback = requests.get(f"{redirect}&mall_id={mall_id}", allow_redirects=False,
                                timeout=30).headers["Location"]
        requests.get(callback, timeout=30).raise_for_status()


def _socket_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets whose local port is `port` (/proc/net/tcp{,6}; empty elsewhere)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    return inodes


def _owns_socket(pid: int, inodes: set[str]) -> bool:
    """Whether process `pid` holds one of the socket `inodes` open."""
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            link = os.readlink(f"/proc/{pid}/fd/{descriptor}")
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in inodes:
            return True
    return False


def sqs_record(message: Mapping[str, Any], queue_arn_: str) -> dict[str, Any]:
    """An SQS message as it appears in a Lambda SQS event."""
    attributes = message.get("Attributes", {})
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
            "SentTimestamp": attributes.get("SentTimestamp", str(int(time.time() * 1000))),
            "SenderId": attributes.get("SenderId", ACCOUNT_ID),
            "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp",
                                                               str(int(time.time() * 1000))),
            **{k: v for k, v in attributes.items() if k in ("MessageGroupId", "MessageDeduplicationId",
                                                             "SequenceNumber", "AWSTraceHeader")},
        },
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in (message.get("MessageAttributes") or {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn_,
        "awsRegion": REGION,
    }
