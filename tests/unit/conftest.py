"""Unit tests are pure: any attempt to open a socket fails the test."""

from __future__ import annotations

import pytest
import pytest_socket


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    pytest_socket.disable_socket(allow_unix_socket=True)


def pytest_runtest_teardown(item: pytest.Item) -> None:
    pytest_socket.enable_socket()
