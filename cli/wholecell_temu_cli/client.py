"""Signed calls to the admin API; every refusal becomes an exit code and a message naming the next step."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import requests

from wholecell_temu_cli.output import Exit, fail
from wholecell_temu_cli.signing import api_url, sign
from wholecell_temu_cli.target import Options

TIMEOUT = 60  # seconds; API Gateway's own limit is 30


class Api:
    def __init__(self, options: Options) -> None:
        self.options = options

    def call(self, method: str, segments: Sequence[str | int], *, query: Mapping[str, Any] | None = None,
             body: Any = None, text: str | None = None, content_type: str = "application/json") -> Any:
        """The answer's JSON (None for an empty answer); exits on any refusal."""
        target = self.options.target()
        url = api_url(target.api_url, ["admin", *segments], query)
        data = text.encode("utf-8") if text is not None else (
            b"" if body is None else json.dumps(body).encode("utf-8"))
        headers = {"Content-Type": content_type} if data else {}
        signed = sign(method, url, data, target.credentials, target.region, headers=headers)
        try:
            response = requests.request(method, url, data=data or None, headers=signed, timeout=TIMEOUT)
        except requests.RequestException as exc:
            hints = ["is the local stack running? `make local`"] if target.local else [
                "check the network and the stack's API URL (its ApiUrl output)"]
            fail(Exit.UNREACHABLE, f"cannot reach {target.api_url}: {type(exc).__name__}", hints=hints)
        answer = _json(response)
        if response.status_code < 400:
            return answer
        _refused(response.status_code, answer, response.text, _connection(segments))

    def get(self, *segments: str | int, query: Mapping[str, Any] | None = None) -> Any:
        return self.call("GET", segments, query=query)

    def post(self, *segments: str | int, body: Any = None, query: Mapping[str, Any] | None = None) -> Any:
        return self.call("POST", segments, body=body, query=query)


def _json(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _connection(segments: Sequence[str | int]) -> str | None:
    return str(segments[1]) if len(segments) > 1 and segments[0] == "connections" else None


def _refused(status: int, answer: Any, text: str, connection_id: str | None) -> NoReturn:
    error = answer.get("error") if isinstance(answer, dict) else None
    if not isinstance(error, dict):  # API Gateway's own answer ({"message": ...}), not the function's
        message = answer.get("message") if isinstance(answer, dict) else text[:200]
        if status in (401, 403):
            fail(Exit.UNREACHABLE, f"the API refused the request's signature ({status}: {message})", hints=[
                "check the AWS credentials (--profile, AWS_PROFILE) and the region (--region): the identity "
                "needs execute-api:Invoke on the admin routes"])
        code = Exit.UNREACHABLE if status >= 500 else Exit.REFUSED
        fail(code, f"HTTP {status}: {message or 'no message'}")
    fields = error.get("fields") or {}
    message = str(error.get("message", f"HTTP {status}"))
    fail(Exit.UNREACHABLE if status >= 500 else Exit.REFUSED, message, fields=fields,
         hints=hints(str(error.get("code", "")), message, fields, connection_id))


def hints(code: str, message: str, fields: Mapping[str, Any], connection_id: str | None) -> list[str]:
    """What to do next, for the refusals that have a known next step."""
    found = []
    text = " ".join([message, *map(str, fields.values())]).lower()
    if code == "not_found" and "connection" in message and connection_id:
        found.append("`wholecell-temu connections list` shows the connections")
    if "authoriz" in text and connection_id:
        found.append(authorize_hint(connection_id))
    if "confirm_initial_push" in fields:
        found.append("pass --confirm-initial-push to `connections settings edit` (the next quantity sync "
                     "overwrites Temu's quantities; a manual quantity_sync run while it is off shows what "
                     "would be pushed)")
    if "does not exist in WholeCell" in text:
        found.append("use the titles exactly as WholeCell spells them (case-sensitive)")
    if code == "conflict":
        found.append("it changed meanwhile: read it again and retry")
    return found


def authorize_hint(connection_id: str) -> str:
    return (f"`wholecell-temu connections authorize-link {connection_id}` issues a new authorize link; "
            "send it to the seller")
