"""Seat reservations as the store keeps them, and which ones a candidate's state proves unused. No I/O.

A seat is a document `<opening_id>#<n>` (n in 1..seats) inserted with a unique key, so there are never
more reservations than seats (docs/domain.md, 'The lifecycle' 3). A volunteer is claimed, with a unique
key too, by the application whose proposal holds a seat, once the seat is reserved, so never two active
placements for one volunteer and a waiting application blocks none of their others. A reservation is
made before the proposal is saved and released after the cancellation is saved, so a crash or a
concurrent writer can leave a reservation or a claim behind: `stale` and `claims_unused_through` name
those that are safe to release.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from services.placement.domain import FINISHED, Candidate, placement_id_of


class Hold(msgspec.Struct, frozen=True, kw_only=True):
    """A reserved seat: which application holds it, for which proposal attempt."""

    seat_id: str
    opening_id: str
    application_id: str
    placement_id: str
    attempt: int


def releasable_placement_ids(state: Candidate) -> list[str]:
    """Return the proposals whose seats the state may prove unused (see `stale`): every decided attempt,
    and the next one once the candidate is closed; a live candidate's next attempt is not ours to judge."""
    last = state.attempts + 1 if state.status in FINISHED else state.attempts
    return [placement_id_of(state, n) for n in range(1, last + 1)]


def claims_unused_through(state: Candidate) -> int | None:
    """Return the last attempt whose claim on the volunteer the state proves unused, or None when it may
    use its claim: a closed candidate uses none (not even the next attempt's); a live one uses none once
    its proposals are decided and none stands (declined: it waits again; or none made yet: 0, a claim
    from before attempts were noted), except the next attempt's, which another process may be about to
    save. A volunteer is claimed only once a seat is reserved, so a
    candidate waiting without a seat leaves their other applications free to be placed."""
    if state.status in FINISHED:
        return state.attempts + 1
    return state.attempts if state.placement is None else None


def seat_id(opening_id: str, n: int) -> str:
    """Return the key of the n-th seat of an opening."""
    return f"{opening_id}#{n}"


def stale(state: Candidate | None, holds: Iterable[Hold]) -> list[Hold]:
    """Return the candidate's holds its state proves unused.

    A closed candidate will never propose again: all its holds are stale. Otherwise a hold of an attempt
    already decided (attempt <= attempts) is stale unless it is the current placement's seat; a hold of
    the next attempt is kept, as another process may be about to save that proposal.
    """
    if state is None:
        return []
    if state.status in FINISHED:
        return list(holds)
    current = state.placement
    return [
        hold
        for hold in holds
        if hold.attempt <= state.attempts
        and not (current and (hold.seat_id, hold.placement_id) == (current.seat_id, current.placement_id))
    ]


def seats_may_have_changed(before: Candidate | None, after: Candidate) -> bool:
    """Tell whether going from `before` to `after` may have left a seat to release: a proposal made or
    decided, or the candidate closed. Unknown `before` (a redelivery, another writer): assume it may."""
    return (
        before is None
        or after.status in FINISHED
        or (before.attempts, before.placement) != (after.attempts, after.placement)
    )
