"""Fixes to moto's in-process server that the local stack needs to behave as AWS does.

moto 5.2.5's SQS `Queue.delete_message` rebuilds the queue's message list from a snapshot and
assigns it back without the lock `add_message` takes. Two deletes on one queue at once (the
local stack's batch threads delete as soon as their invocations end) can each drop their own
message from the same snapshot: the second assignment brings the first deleted message back, as
received and invisible. It then counts as in flight and comes back after the queue's visibility
timeout (30 minutes for the job queues), as a duplicate delivery of a message already processed,
and holds every drain until then. A send at the same time as a delete can likewise be lost.

Its `SQSBackend.receive_message` likewise moves a message past the queue's maxReceiveCount to the
dead-letter queue (`_messages.remove`) and marks messages received, without that lock. Two
receives at once can both pick the same message for the dead-letter queue: the second `remove`
fails and its caller gets a server error (tests/integration/test_moto_fixes.py); by the code, a
delete at the same time can also put it back in the queue.
Holding the lock for the whole receive has one cost: on a FIFO queue whose visible messages all
belong to groups in flight, moto's receive loop spins until its poll ends, and sends and deletes
on that queue now wait for it. The stack has no FIFO queue.
"""

from __future__ import annotations

import functools
from typing import Any

_APPLIED = "_wholecell_temu_serialized"


def serialize_sqs_queue_access() -> None:
    """Make every SQS delete and receive hold the queue's message lock, which `add_message` holds
    already (idempotent; the lock is a Condition over an RLock, so the long-poll wait inside a
    receive releases it for the sends it waits for)."""
    from moto.sqs.models import Queue, SQSBackend  # noqa: PLC0415 - moto only where the local stack runs it

    original = Queue.delete_message
    if getattr(original, _APPLIED, False):
        return

    @functools.wraps(original)
    def delete_message(self: Any, receipt_handle: str) -> None:
        with self._messages_lock:
            original(self, receipt_handle)

    receive = SQSBackend.receive_message

    @functools.wraps(receive)
    def receive_message(self: Any, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with self.get_queue(queue_name)._messages_lock:
            return receive(self, queue_name, *args, **kwargs)

    setattr(delete_message, _APPLIED, True)
    Queue.delete_message = delete_message  # type: ignore[method-assign]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
