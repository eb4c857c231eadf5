from __future__ import annotations

import pytest
from wholecell_temu.auth.state import InvalidState, issue_state, verify_state

KEY = b"k" * 32


def test_round_trip_binds_the_connection() -> None:
    state = issue_state("conn-1", KEY, now=1000)
    assert verify_state(state, KEY, now=1100) == "conn-1"


@pytest.mark.parametrize("state", [None, "", "no-dot", "a.b.c"])
def test_missing_or_malformed(state: str | None) -> None:
    with pytest.raises(InvalidState):
        verify_state(state, KEY, now=1000)


def test_forged_and_tampered_states_fail() -> None:
    state = issue_state("conn-1", KEY, now=1000)
    with pytest.raises(InvalidState, match="not issued"):
        verify_state(state, b"other-key", now=1000)
    _payload, mac = state.split(".")
    forged = issue_state("conn-2", KEY, now=1000).split(".")[0]
    with pytest.raises(InvalidState, match="not issued"):
        verify_state(f"{forged}.{mac}", KEY, now=1000)


def test_expires_after_ten_minutes() -> None:
    state = issue_state("conn-1", KEY, now=1000)
    assert verify_state(state, KEY, now=1600) == "conn-1"
    with pytest.raises(InvalidState, match="expired"):
        verify_state(state, KEY, now=1601)


@pytest.mark.parametrize("state", ["é.é", "abc.dé", "\u00b2.\u00b2", "a\x00.b"])
def test_non_ascii_states_are_invalid_not_a_crash(state: str) -> None:
    with pytest.raises(InvalidState):
        verify_state(state, KEY, now=1000)
