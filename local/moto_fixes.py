"""Fixes to moto's in-process server that the local stack needs to behave as AWS does.

moto 5.2.5's SQS `Queue.delete_message` rebuilds the queue's message list from a snapshot and
assigns it back without the lock `add_message` takes. Two deletes on one queue at once (the
local stack's batch threads delete as soon as their invocations end) can each drop their own
message from the same snapshot: the second assignment brings the first deleted message back, as
received and invisible. It then counts as in flight and comes back after the queue's visibility
timeout (30 minutes for the job queues), as a duplicate delivery of a message already processed,
and holds every drain until then. A send at the same time as a delete can likewise be lost.
"""

from __future__ import annotations

import functools
from typing import Any

_APPLIED = "_wholecell_temu_serialized"


def serialize_sqs_deletes() -> None:
    """Make every SQS delete hold the queue's message lock, which `add_message` holds already
    (idempotent; the lock is a Condition over an RLock, so the long-poll wait releases it)."""
    from moto.sqs.models import Queue  # noqa: PLC0415 - moto only where the local stack runs it

    original = Queue.delete_message
    if getattr(original, _APPLIED, False):
        return

    @functools.wraps(original)
    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            original(self, receipt_handle)

    setattr(delete_message, _APPLIED, True)
    Queue.delete_message = delete_message  # type: ignore[method-assign]
