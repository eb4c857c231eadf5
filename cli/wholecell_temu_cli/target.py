"""Which stack the command talks to: a deployed one (CloudFormation outputs, the AWS credential chain)
or the local one (`make local`, or any API URL); resolved on first use, so `--help` needs no AWS."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.exceptions
from botocore.credentials import Credentials

from wholecell_temu_cli.output import Exit, Format, fail

LOCAL_REGION = "us-east-1"  # the local stack's region (local/template.py)
LOCAL_CREDENTIALS = ("testing", "testing")  # the local stack's dummy pair, accepted by its SigV4 check
API_URL_OUTPUT = "ApiUrl"  # template.yaml's Outputs
_EXECUTE_API_HOST = re.compile(r"^[a-z0-9]+\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$")
AWS_PROBLEMS = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)


@dataclass
class Options:
    """The global options, as given (command line or environment)."""

    stack_name: str | None = None
    local: bool = False
    api_url: str | None = None
    region: str | None = None
    profile: str | None = None
    output: Format = Format.TABLE
    _target: Target | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        return self.output is Format.JSON

    def target(self) -> Target:
        if self._target is None:
            self._target = resolve(self)
        return self._target


@dataclass(frozen=True)
class Target:
    api_url: str
    region: str
    credentials: Any  # botocore frozen credentials
    local: bool  # the local stack (or any URL given with --api-url): its moto holds the queues
    stack_name: str | None = None
    session: Any = None  # boto3.Session of a deployed stack

    def describe(self) -> str:
        return f"stack {self.stack_name} ({self.region})" if self.stack_name else self.api_url


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in ("127.0.0.1", "localhost", "::1")


def session(options: Options) -> Any:
    try:
        return boto3.Session(profile_name=options.profile, region_name=options.region)
    except botocore.exceptions.ProfileNotFound as exc:
        fail(Exit.UNREACHABLE, str(exc), hints=["name a profile of ~/.aws/config (aws configure list-profiles)"])


def resolve(options: Options) -> Target:
    if options.local:
        port = os.environ.get("LOCAL_API_PORT", "3000")
        return Target(f"http://127.0.0.1:{port}", options.region or LOCAL_REGION,
                      Credentials(*LOCAL_CREDENTIALS).get_frozen_credentials(), local=True)
    if options.api_url:
        return _url_target(options, options.api_url.rstrip("/"))
    if options.stack_name:
        return _stack_target(options, options.stack_name)
    fail(Exit.USAGE, "no stack to talk to", hints=[
        "pass --stack-name NAME (a deployed stack), --local (make local) or --api-url URL",
        "or set WHOLECELL_TEMU_STACK / WHOLECELL_TEMU_API_URL"])


def _credentials(aws: Any) -> Any:
    try:
        credentials = aws.get_credentials()
    except AWS_PROBLEMS as exc:
        fail(Exit.UNREACHABLE, f"AWS credentials could not be loaded: {exc}")
    return None if credentials is None else credentials.get_frozen_credentials()


def _url_target(options: Options, url: str) -> Target:
    aws = session(options)
    credentials = _credentials(aws)
    host = _EXECUTE_API_HOST.match(urlsplit(url).hostname or "")
    region = options.region or (host.group(1) if host else None) or aws.region_name or LOCAL_REGION
    if credentials is None:
        if not is_loopback(url):
            fail(Exit.UNREACHABLE, "no AWS credentials to sign the request with", hints=[
                "configure them (aws configure, AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY)"])
        credentials = Credentials(*LOCAL_CREDENTIALS).get_frozen_credentials()
    return Target(url, region, credentials, local=not host)


def _stack_target(options: Options, stack_name: str) -> Target:
    aws = session(options)
    if not aws.region_name:
        fail(Exit.USAGE, "no AWS region", hints=["pass --region, or set AWS_REGION or the profile's region"])
    credentials = _credentials(aws)
    if credentials is None:
        fail(Exit.UNREACHABLE, "no AWS credentials", hints=[
            "configure them (aws configure, AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"])
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    except botocore.exceptions.ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", str(exc))
        fail(Exit.UNREACHABLE, f"stack {stack_name} in {aws.region_name}: {message}", hints=[
            "check --stack-name and --region (aws cloudformation list-stacks), and that the credentials may "
            "call cloudformation:DescribeStacks"])
    except botocore.exceptions.BotoCoreError as exc:
        fail(Exit.UNREACHABLE, f"CloudFormation could not be asked: {exc}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    if API_URL_OUTPUT not in outputs:
        fail(Exit.UNREACHABLE, f"stack {stack_name} has no {API_URL_OUTPUT} output",
             hints=["is it a wholecell-temu stack, and has its deployment finished?"])
    return Target(outputs[API_URL_OUTPUT].rstrip("/"), aws.region_name, credentials, local=False,
                  stack_name=stack_name, session=aws)
