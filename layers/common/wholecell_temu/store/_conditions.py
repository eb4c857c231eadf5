"""Conditional writes: a failed condition is an answer (someone else holds it, it already moved),
every other DynamoDB failure stays an error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pynamodb.exceptions import DeleteError, PutError, UpdateError

CONDITION_FAILED = "ConditionalCheckFailedException"


@dataclass
class ConditionalWrite:
    failed: bool = False  # the write's condition did not hold: nothing was written


@contextmanager
def conditional_write(otherwise: Exception | None = None) -> Iterator[ConditionalWrite]:
    """Run one conditional put, update or delete. When its condition fails, raise `otherwise`
    (without the PynamoDB chain) or, with none, carry on with `.failed` set; any other failure
    of the write is raised as it came.

        with conditional_write(ClaimHeld(key)):        # a failed condition means "held"
            item.save(condition=free)
        with conditional_write() as write:             # a failed condition is an answer
            model.update(actions=..., condition=...)
        return not write.failed
    """
    write = ConditionalWrite()
    try:
        yield write
    except (PutError, UpdateError, DeleteError) as exc:
        if exc.cause_response_code != CONDITION_FAILED:
            raise
        if otherwise is not None:
            raise otherwise from None
        write.failed = True


__all__ = ["CONDITION_FAILED", "ConditionalWrite", "conditional_write"]
