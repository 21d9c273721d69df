"""The demo cast, built on the seed article's three real missions, with invented volunteers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services.simulator.personas import Choice, Mission, Persona
from shared.contracts.application import ApplicationSubmitted
from shared.contracts.placement import HostingApproved, Opening, OpeningPublished
from shared.contracts.types import Scheme
from shared.samples import approved, published, submitted, wishes


def openings(run: str, today: dt.date) -> list[Opening]:
    """The three missions of the seed article, published three weeks ago."""
    published_on = today - dt.timedelta(days=21)
    start = dt.date(today.year + 1, 3, 1)
    return [
        Opening(
            opening_id=f"{run}-moyobamba", host_organisation="Neotropical Primate Conservation",
            mission="Conservation through education, research and reforestation in Moyobamba",
            country="PE", region="San Martín", scheme=Scheme.SERVICE_CIVIQUE, seats=1,
            start_date=start, duration_months=12, required_skills=("education",),
            required_languages=("es",), published_on=published_on, hours_per_week=35,
        ),
        Opening(
            opening_id=f"{run}-iquitos", host_organisation="Institut de recherche pour le développement",
            mission="Environmental DNA monitoring of Amazonian biodiversity (V-Amazonie)",
            country="PE", region="Loreto", scheme=Scheme.VSI, seats=1, start_date=start,
            duration_months=24, required_skills=("molecular-biology",), required_languages=("es",),
            published_on=published_on, selected_by_host=True,
        ),
        Opening(
            opening_id=f"{run}-paris-sport", host_organisation="Fédération sportive de Paris",
            mission="Education and intercultural dialogue through sport (V-JOP)", country="FR",
            region="Île-de-France", scheme=Scheme.RECIPROCITY, seats=2, start_date=start,
            duration_months=10, required_skills=("sport",), required_languages=("es",),
            published_on=published_on, hours_per_week=28,
        ),
    ]  # fmt: skip


def cast(run: str, today: dt.date, submitted_at: dt.datetime) -> list[Persona]:
    """Seven invented volunteers: four reach departure, one has her visa refused, one is refused, and one
    waits, as the IRD chose another candidate for its one seat (Élise, whose portal sent her application
    to its offer with her application, over Lucas, whom matching suggested for it); of the three who
    arrive, one serves the whole mission and comes back, one's host ends it early (he comes back too), one
    is still on site. Their ages at the start are the same whatever the day it runs (birth dates move with
    `today`), so the demo never expires."""
    start = dt.date(today.year + 1, 3, 1)
    years = start.year - 2027  # the birth dates below are those of a demo starting in March 2027

    def born(year: int, month: int, day: int) -> dt.date:
        return dt.date(year + years, month, day)

    def person(
        key: str, given: str, family: str, born: dt.date, nationality: str, **wish: Any
    ) -> ApplicationSubmitted:
        return submitted(
            f"{run}-{key}",
            occurred_at=submitted_at,
            volunteer_fields={
                "volunteer_id": f"{run}-vol-{key}", "given_name": given, "family_name": family,
                "birth_date": born, "nationality": nationality, "residence_country": nationality,
                "email": f"{key}@example.org",
            },
            wishes=wishes(available_from=start, **wish),
        )  # fmt: skip

    civic: dict[str, Any] = {"available_until": start.replace(year=start.year + 1) - dt.timedelta(days=1)}
    vsi: dict[str, Any] = {
        "scheme": Scheme.VSI, "region": "Loreto", "skills": ("molecular-biology",),
        "available_until": start.replace(year=start.year + 2) - dt.timedelta(days=1),
    }  # fmt: skip
    sport: dict[str, Any] = {
        "scheme": Scheme.RECIPROCITY, "country": "FR", "region": "Île-de-France", "skills": ("sport",),
        "available_until": start + dt.timedelta(days=310),
    }  # fmt: skip
    return [
        Persona(application=person("ines", "Inès", "Moreau", born(2004, 2, 3), "FR", **civic),
                visa_granted=False, expected_stage="x placement closed"),
        Persona(application=person("hugo", "Hugo", "Lefebvre", born(2003, 7, 21), "FR", **civic),
                applies_after=f"{run}-ines", mission=Mission.COMPLETED, expected_stage="12 closed"),
        Persona(application=person("elise", "Élise", "Garnier", born(1994, 11, 8), "FR", **vsi),
                chosen=Choice(opening_id=f"{run}-iquitos", over=f"{run}-lucas"), arrives=False,
                applies_to=f"{run}-iquitos", applies_early=True, expected_stage="8 departed"),
        Persona(application=person("lucas", "Lucas", "Bernard", born(1989, 6, 2), "FR", **vsi),
                expected_stage="4 awaiting a seat"),
        Persona(application=person("mateo", "Mateo", "Huamán", born(2002, 4, 12), "PE", **sport),
                mission=Mission.ENDED_EARLY, expected_stage="12 closed"),
        Persona(application=person("valeria", "Valeria", "Ccori", born(2003, 9, 30), "PE", **sport),
                expected_stage="9 arrived"),
        Persona(application=person("theo", "Théo", "Roussel", born(1992, 1, 17), "FR", **civic),
                expected_stage="x vetting refused"),
    ]  # fmt: skip


def publications(run: str, today: dt.date) -> list[OpeningPublished | HostingApproved]:
    """The hosts' publications of the three openings, and the agency's approval of the reciprocity one."""
    found = openings(run, today)
    return [
        *(published(opening) for opening in found),
        *(approved(opening) for opening in found if opening.scheme is Scheme.RECIPROCITY),
    ]
