"""Transition tables: the one guard every service's state machine uses, and the refusal it leads to."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, TypeVar

from shared.contracts.application import ErasureCompleted, TransitionRefused
from shared.contracts.envelope import Event, caused_by

S = TypeVar("S", bound=StrEnum)


class TransitionError(Exception):
    """The state machine forbids this transition; the message is the reason, without personal data."""


class StateMachine(Generic[S]):
    """An explicit table `status -> allowed next statuses`."""

    def __init__(self, entity: str, table: Mapping[S, frozenset[S]]) -> None:
        self.entity = entity
        self.table = table

    def to(self, current: S, target: S) -> S:
        """Return `target` if the table allows it from `current`, else raise TransitionError."""
        if target not in self.table[current]:
            raise TransitionError(f"a {current.value} {self.entity} cannot become {target.value}")
        return target


def refusal(event: Event, producer: str, status: StrEnum, reason: str) -> TransitionRefused:
    """Return the event saying `event` was refused while in `status`, and why."""
    return TransitionRefused(
        **caused_by(event, producer),
        refused_event_id=event.event_id,
        refused_event_type=event.event_type,
        status=status.value,
        reason=reason[:300],
        refused_producer=event.producer,
    )


def erasure_completed(cause: ErasureCompleted, producer: str) -> ErasureCompleted:
    """Return the news that `producer` erased the application `cause` (an upstream service's news) names."""
    return ErasureCompleted(**caused_by(cause, producer), application_id=cause.application_id)
