"""Nothing secret reaches X-Ray: the admin and OAuth handlers answer with webhook secrets and
signed states, and their errors can quote the request, so neither answers nor errors are
recorded in their traces (run with a recording stand-in for the X-Ray provider)."""

from __future__ import annotations

import contextlib
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from wholecell_temu.observability import tracer

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_s3cretValueThatMustNotLeak"


class Subsegment:
    def __init__(self, recorded: list[Any]) -> None:
        self.recorded = recorded

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.recorded.append((key, value))

    def put_annotation(self, key: str, value: Any) -> None:
        self.recorded.append((key, value))

    def add_exception(self, exception: BaseException, stack: Any = None, remote: bool = False) -> None:
        self.recorded.append(("exception", repr(exception)))


class Provider:
    """What the Tracer writes through: every subsegment's metadata, annotations and exceptions."""

    def __init__(self) -> None:
        self.recorded: list[Any] = []

    @contextlib.contextmanager
    def in_subsegment(self, name: str, **_: Any) -> Iterator[Subsegment]:
        yield Subsegment(self.recorded)


def load(function: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"traced_{function}", ROOT / "functions" / function / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CONTEXT = SimpleNamespace(function_name="f", memory_limit_in_mb=128, invoked_function_arn="arn:aws:lambda:x",
                          aws_request_id="r", get_remaining_time_in_millis=lambda: 1000)
EVENT = {"requestContext": {"requestId": "r"}}


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Provider:
    fake = Provider()
    monkeypatch.setattr(tracer, "provider", fake)
    return fake


@pytest.mark.parametrize("function", ["admin", "oauth"])
def test_answers_are_not_recorded(function: str, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load(function)
    answer = {"statusCode": 201, "body": json.dumps({"webhook_secret": SECRET}),
              "headers": {"Location": f"https://seller.temu.com/?state={SECRET}"}}
    monkeypatch.setattr(module, "app", SimpleNamespace(resolve=lambda event, context: answer))
    assert module.lambda_handler(EVENT, CONTEXT) == answer
    assert provider.recorded, "the handler is not traced at all"
    assert SECRET not in repr(provider.recorded)


@pytest.mark.parametrize("function", ["admin", "oauth"])
def test_errors_are_not_recorded(function: str, provider: Provider, monkeypatch: pytest.MonkeyPatch) -> None:
    module = load(function)

    def fail(event: Any, context: Any) -> Any:
        raise ValueError(f"app_secret {SECRET} is not valid")

    monkeypatch.setattr(module, "app", SimpleNamespace(resolve=fail))
    with pytest.raises(ValueError):
        module.lambda_handler(EVENT, CONTEXT)
    assert SECRET not in repr(provider.recorded)
