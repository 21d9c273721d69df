"""Where a volunteer stands, derived from the events of the four services (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Iterable

from shared.contracts.envelope import Event

# The stage each event puts an application in; events absent here do not move it.
STAGE_OF_EVENT = {
    "ApplicationSubmitted": "1 submitted",
    "ApplicationReceived": "2 in vetting",
    "ApplicationRejected": "x rejected",
    "ApplicationWithdrawn": "x withdrawn",
    "VettingCleared": "3 cleared",
    "VettingRefused": "x vetting refused",
    "PlacementAwaited": "4 awaiting a seat",
    "PlacementProposed": "5 proposed",
    "PlacementConfirmed": "6 preparing departure",
    "PlacementCancelled": "4 awaiting a seat",
    "PlacementClosed": "x placement closed",
    "ContractSigned": "7 contract signed",
    "DepartureScheduled": "7 contract signed",
    "VolunteerDeparted": "8 departed",
    "ArrivalConfirmed": "9 arrived",
    "MissionEnded": "10 mission ended",
    "VolunteerReturned": "11 returned",
    "MissionClosed": "12 closed",
    "ErasureCompleted": "x erased",
}
ERASED = "x erased"  # whatever stage the application stood at, final or not
FINAL = frozenset(
    {"x rejected", "x withdrawn", "x vetting refused", "x placement closed", "12 closed", ERASED}
)
ON_SITE = 9  # from arrival on, a volunteer only moves forward: the mission's stages follow one another
# Fields an operator sees in a one-line summary; personal data is never among them.
SUMMARY_FIELDS = (
    "application_id", "placement_id", "opening_id", "check", "passed", "party", "accepted", "status",
    "item", "reason", "reasons", "granted", "fit", "stage", "last_day", "end_date", "in_time", "by",
    "agreed", "report",
)  # fmt: skip


def application_of(event: Event) -> str | None:
    """Return the application an event is about, if any."""
    return getattr(event, "application_id", None)


def rank(stage: str) -> int:
    """A stage's place in the lifecycle (its number; the `x` stages, which end it early, after all)."""
    number = stage.split(" ", 1)[0]
    return int(number) if number.isdigit() else 99


def stage_name(stage: str) -> str:
    """A stage as operators read it, without its number: `9 arrived` is `arrived`."""
    return stage.split(" ", 1)[1]


def next_stage(now: str | None, event_type: str) -> str | None:
    """The stage an application at `now` moves to on an event of this type, or None when it stays: a final
    stage sticks (but for an erasure, which ends any stage), and an arrived volunteer only moves on to a
    later stage of the mission."""
    stage = STAGE_OF_EVENT.get(event_type)
    if stage is None:
        return None
    stays = now in FINAL or (now is not None and rank(now) >= ON_SITE and rank(stage) <= rank(now))
    if now == ERASED or (stays and stage != ERASED):
        return None
    return stage


def advance(current: dict[str, str], event: Event) -> str | None:
    """Move the event's application to the stage the event puts it in (`next_stage`); return the
    application it moved."""
    application = application_of(event)
    stage = next_stage(current.get(application), event.event_type) if application else None
    if not (application and stage):
        return None
    current[application] = stage
    return application


def stages(events: Iterable[Event]) -> dict[str, str]:
    """Return the current stage of each application, folding events in order; a final stage sticks, and
    a copy of an event already folded (at-least-once delivery republishes one now and then) is skipped:
    a proposal published again after the departure must not move the volunteer back."""
    current: dict[str, str] = {}
    seen: set[str] = set()
    for event in events:
        if event.identity not in seen:
            seen.add(event.identity)
            advance(current, event)
    return current


def count_by_stage(current: dict[str, str]) -> dict[str, int]:
    """Return how many applications stand at each stage, in lifecycle order."""
    counts: dict[str, int] = {}
    for stage in sorted(current.values(), key=lambda stage: (rank(stage), stage)):
        counts[stage] = counts.get(stage, 0) + 1
    return counts


# Events whose outcome or reason is a health, screening or visa detail, or a volunteer's own words (a
# withdrawal's): an operator sees it only when asking for it (`--sensitive`, read from the topic itself), so
# the operators' read model, which keeps the summaries until an erasure, never holds it; a form problem is
# shown as it is.
SENSITIVE_EVENTS = frozenset({
    "ScreeningReported", "VettingRefused", "MedicalReported", "PassportChecked", "VisaDecided",
    "DepartureCancelled", "PlacementCancelled", "PlacementClosed", "MissionEnded", "MissionEndingEarly",
    "WithdrawalRequested",
})  # fmt: skip
SENSITIVE_FIELDS = frozenset({"check", "passed", "fit", "granted", "reason", "reasons"})
HIDDEN = "(hidden: --sensitive shows it)"


def summary(event: Event, *, sensitive: bool = False) -> str:
    """Return the operator's one-line view of an event: ids, outcomes, reasons; no personal data, and no
    health, screening or visa detail unless `sensitive`."""
    hide = not sensitive and event.event_type in SENSITIVE_EVENTS
    parts = []
    for name in SUMMARY_FIELDS:
        value = getattr(event, name, None)
        if value is not None:
            shown = "; ".join(value) if isinstance(value, tuple) else str(value)
            parts.append(f"{name}={HIDDEN if hide and name in SENSITIVE_FIELDS else shown}")
    return " ".join(parts)
