"""Why the order import never saw an order: the answer for each cause, most fundamental first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from wholecell_temu.admin.orders import NotSeenFacts, TemuLookup, explain_not_seen, schedule_interval
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.orders import OVERLAP_SECONDS
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.temu.models import Order

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
WATERMARK = int(NOW.timestamp()) - 120
ON = ConnectionSettings(order_import_enabled=True, order_status_map={"1": "Pending", "2": "Awaiting Fulfillment"})


def connection(status: ConnectionStatus = ConnectionStatus.ACTIVE, settings: ConnectionSettings = ON) -> Connection:
    return Connection(connection_id="c1", name="Shop", status=status, temu_region="US", temu_mall_id=77,
                      credentials_secret_arn="arn", credentials_version="v", settings=settings, created_at=NOW,
                      updated_at=NOW)


def on_temu(status: int = 2, update_time: int | None = WATERMARK + 60) -> TemuLookup:
    order = Order.model_validate({"parentOrderMap": {"parentOrderSn": "PO-1", "parentOrderStatus": status,
                                                     "updateTime": update_time}})
    return TemuLookup(order=order, found=True)


def facts(lookup: TemuLookup | None = None, conn: Connection | None = None, watermark: int | None = WATERMARK,
          last_run_at: datetime | None = NOW - timedelta(minutes=2), schedule: str = "rate(5 minutes)"
          ) -> NotSeenFacts:
    return NotSeenFacts(parent_order_sn="PO-1", connection=conn or connection(), lookup=lookup or on_temu(),
                        watermark=watermark, last_run_at=last_run_at, schedule=schedule, now=NOW)


def test_an_order_temu_does_not_have_is_said_so_first() -> None:
    why = explain_not_seen(facts(TemuLookup(found=False), connection(settings=ConnectionSettings())))
    assert why.on_temu is False and "Temu has no order PO-1 in shop 77" in why.reason


def test_order_import_switched_off() -> None:
    why = explain_not_seen(facts(conn=connection(settings=ConnectionSettings())))
    assert why.on_temu is True and "order import is switched off" in why.reason and why.temu_status == 2


@pytest.mark.parametrize(("status", "words"), [
    (ConnectionStatus.AWAITING_AUTHORIZATION, "not authorized yet"),
    (ConnectionStatus.NEEDS_REAUTHORIZATION, "needs re-authorization"),
    (ConnectionStatus.DISABLED, "disabled"),
])
def test_a_connection_that_cannot_import(status: ConnectionStatus, words: str) -> None:
    why = explain_not_seen(facts(TemuLookup(problem="the connection is not asked"), connection(status)))
    assert words in why.reason


def test_not_polled_yet_names_when_the_next_run_is_due() -> None:
    why = explain_not_seen(facts())
    assert "not polled yet" in why.reason and why.next_import_due_at == NOW + timedelta(minutes=3)
    assert "2026-12-06T12:03:00+00:00" in why.reason
    # an update inside the overlap the next run re-reads is "not polled yet" too
    assert "not polled yet" in explain_not_seen(facts(on_temu(update_time=WATERMARK - OVERLAP_SECONDS))).reason


def test_a_run_overdue_or_never_run_is_due_one_period_from_now() -> None:
    assert explain_not_seen(facts(last_run_at=NOW - timedelta(hours=1))).next_import_due_at == NOW + timedelta(
        minutes=5)
    never = explain_not_seen(facts(watermark=None, last_run_at=None))
    assert "has not run for this connection yet" in never.reason and never.next_import_due_at == NOW + timedelta(
        minutes=5)
    assert explain_not_seen(facts(schedule="cron(0/5 * * * ? *)")).next_import_due_at is None


def test_outside_the_first_import_window() -> None:
    why = explain_not_seen(facts(on_temu(status=4, update_time=WATERMARK - OVERLAP_SECONDS - 1)))
    assert "outside the first import's window" in why.reason and "look-back 7 days" in why.reason
    assert why.on_temu is True and why.next_import_due_at is None


def test_a_status_that_will_not_be_imported_when_read_is_named() -> None:
    why = explain_not_seen(facts(on_temu(status=41)))
    assert "not polled yet" in why.reason and "Temu status 41 is not mapped" in why.reason
    waiting = ON.model_copy(update={"order_acknowledgment": "wait_for_confirmation"})
    assert "waiting for confirmation" in explain_not_seen(facts(on_temu(status=1), connection(settings=waiting))).reason
    assert "not mapped" not in explain_not_seen(facts()).reason


def test_when_temu_cannot_be_asked_the_answer_says_so() -> None:
    why = explain_not_seen(facts(TemuLookup(problem="Temu did not answer (retryable)")))
    assert why.on_temu is None and "Temu did not answer" in why.reason and "re-import" in why.reason


@pytest.mark.parametrize(("expression", "period"), [
    ("rate(5 minutes)", timedelta(minutes=5)), ("rate(1 minute)", timedelta(minutes=1)),
    ("rate(2 hours)", timedelta(hours=2)), ("rate(1 day)", timedelta(days=1)), ("cron(0 * * * ? *)", None),
])
def test_schedule_interval(expression: str, period: timedelta | None) -> None:
    assert schedule_interval(expression) == period
