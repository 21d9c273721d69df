"""The operators' console in a real browser (Debian's Chromium, driven by Playwright), against the four
services and the console as processes on the real servers: a volunteer appears and moves through the
stages live, a poison message shows under dead letters, and a stranded message is replayed from the page.
Screenshots and the measured latencies are written under test-results/console/."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from services.cli.deadletters import replay_header
from services.simulator.processes import ROOT, ServiceProcesses
from shared import samples
from shared.contracts import application as app
from shared.contracts import departure as dep
from shared.contracts.codec import encode
from shared.contracts.topics import Topic
from shared.kafka import client_options
from shared.settings import Settings, read_passwords
from tests.e2e.test_lifecycle import accept, send
from tests.kafka import produce
from tests.observer import Observer

pytestmark = pytest.mark.timeout(240)
CHROMIUM = Path("/usr/bin/chromium")
OUT = ROOT / "test-results" / "console"
# As root on a closed network: no sandbox, and none of Chromium's own calls home (each would be refused).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PHONE: ViewportSize = {"width": 390, "height": 844}
# Every stage the timeline shows, in order, with when it was shown (the page is never reloaded)
WATCH_STAGES = """() => {
    window.stagesSeen = [];
    const note = () => {
        const s = document.querySelector('#timeline strong[data-stage]');
        const last = window.stagesSeen.at(-1);
        if (s && (!last || last.stage !== s.dataset.stage))
            window.stagesSeen.push({stage: s.dataset.stage, at: Date.now()});
    };
    note();
    const options = {childList: true, subtree: true};
    new MutationObserver(note).observe(document.getElementById('timeline'), options);
}"""


@pytest.fixture
async def console(services: ServiceProcesses) -> str:
    if "console" not in services.processes or services.processes["console"].poll() is not None:
        services.start("console")
    return services.address("console")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    installed = CHROMIUM.exists()  # noqa: ASYNC240 (a stat, once)
    assert installed, f"the browser tests need Debian's Chromium at {CHROMIUM}: apt install chromium"
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as driver:
        found = await driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=FLAGS)
        try:
            yield found
        finally:
            await found.close()


def record_figures(**figures: float) -> None:
    path = OUT / "latency.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps(known | figures, indent=2) + "\n")


async def signed_in(browser: Browser, console: str, settings: Settings, viewport: ViewportSize) -> Page:
    """A page of the console, signed in by its form as the local stack's operator, by keyboard."""
    name, password = next(
        iter(read_passwords(settings.console_passwords_file, "ENVOL_CONSOLE_PASSWORDS").items())
    )
    page = await browser.new_page(viewport=viewport)
    await page.goto(console)
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # every page asks first
    await page.screenshot(path=OUT / "sign-in.png")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


async def live(page: Page) -> None:
    await expect(page.locator("#live")).to_contain_text("Live:", timeout=15_000)


async def test_a_volunteer_appears_and_moves_through_the_stages_live(
    settings: Settings, console: str, browser: Browser, observer: Observer
) -> None:
    run = settings.namespace
    opening = samples.opening(f"{run}-console", seats=1)
    volunteer = samples.submitted(f"{run}-console", volunteer_fields={"volunteer_id": f"{run}-vol-console"})
    page = await signed_in(browser, console, settings, PHONE)
    loaded = await page.evaluate("performance.getEntriesByType('navigation')[0].duration")
    await live(page)
    fits = await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "on a phone the overview scrolls sideways (a table wider than the screen outside .scroll)"
    await page.screenshot(path=OUT / "overview-phone.png", full_page=True)

    sent = time.monotonic()
    await send(settings, samples.published(opening), volunteer)
    await page.get_by_label("Find a volunteer by application id").fill(volunteer.application_id)
    await page.keyboard.press("Enter")  # the search, by keyboard
    link = page.get_by_role("link", name=volunteer.application_id)
    await expect(link).to_be_visible(timeout=15_000)
    await link.click()
    await live(page)
    stage = page.locator("#timeline strong[data-stage]")
    await expect(stage).to_have_attribute("data-stage", "2 in vetting", timeout=30_000)
    # every stage the page shows from now on, in order, without a reload
    await page.evaluate(WATCH_STAGES)

    await send(settings, *samples.all_screenings(volunteer))
    await observer.wait_for(app.ApplicationReceived, application_id=volunteer.application_id)
    await accept(settings, observer, volunteer)
    # each step shown before the next is taken: the page updates at most five times a second, so steps
    # taken faster than that would show as one
    await expect(stage).to_have_attribute("data-stage", "6 preparing departure", timeout=15_000)
    await send(settings, *samples.checklist(volunteer))
    await observer.wait_for(dep.DepartureScheduled, application_id=volunteer.application_id)
    await expect(stage).to_have_attribute("data-stage", "7 contract signed", timeout=15_000)
    await send(settings, samples.departed(volunteer))
    await observer.wait_for(dep.VolunteerDeparted, application_id=volunteer.application_id)
    await expect(stage).to_have_attribute("data-stage", "8 departed", timeout=15_000)
    await send(settings, samples.arrived(volunteer))
    arrival = await observer.wait_for(dep.ArrivalConfirmed, application_id=volunteer.application_id)
    await expect(stage).to_have_attribute("data-stage", "9 arrived", timeout=15_000)
    lifecycle = time.monotonic() - sent

    seen: list[dict[str, Any]] = await page.evaluate("window.stagesSeen")
    stages = [step["stage"] for step in seen]
    assert stages[0] == "2 in vetting" and stages[-1] == "9 arrived", stages
    assert stages == sorted(stages) and len(stages) >= 4, f"the stages did not move live: {stages}"
    await expect(page.locator("#timeline")).to_contain_text("ArrivalConfirmed")
    await page.set_viewport_size({"width": 1280, "height": 900})
    await page.screenshot(path=OUT / "timeline.png", full_page=True)
    # the update latency: the departure service made the event, the page showed it (one machine, one clock)
    shown = seen[-1]["at"] - arrival.occurred_at.timestamp() * 1000
    assert 0 <= shown < 5000, f"arrival shown {shown:.0f} ms after it was made"
    record_figures(overview_load_ms=round(loaded, 1), arrival_update_ms=round(shown, 1),
                   lifecycle_seconds=round(lifecycle, 2))  # fmt: skip


async def test_a_poison_message_shows_under_dead_letters_and_a_stranded_one_is_replayed_from_the_page(
    settings: Settings, console: str, browser: Browser, observer: Observer
) -> None:
    run = settings.namespace
    intake = settings.topic(Topic.APPLICATION_INTAKE)
    page = await signed_in(browser, console, settings, {"width": 1280, "height": 900})
    await live(page)
    letters = page.locator("#letters tr[data-position]")
    before = set(await letters.evaluate_all("rows => rows.map(r => r.dataset.position)"))

    # a poison message from the portal: the application service sets it aside, the page shows why
    await produce(
        settings, [(intake, f"{run}-vol-poison".encode(), b'{"event_type": "ApplicationSubmitted"')]
    )
    poison = letters.filter(has_text="ContractError").filter(has_text=intake)
    await expect(poison.first).to_be_visible(timeout=30_000)
    poison_position = await poison.first.get_attribute("data-position")
    # a valid application set aside while the database was down (as a service writes one): replayable
    stranded = samples.submitted_now(f"{run}-console-stranded", f"{run}-vol-console-stranded")
    producer = AIOKafkaProducer(**client_options(settings))
    await producer.start()
    try:
        # a sender names the poison letter replayed, with its bytes under another key: it stays listed
        # (sent on the stranded one's partition, so the view folds it before that one's replay)
        forged = [replay_header(str(poison_position))]
        sent = await producer.send_and_wait(intake, b'{"event_type": "ApplicationSubmitted"',
                                            key=stranded.subject_id.encode(), headers=forged)  # fmt: skip
        # the stranded one's original, as its letter names it: that record's place (a replay comes after)
        headers = [("origin-topic", intake.encode()), ("origin-partition", str(sent.partition).encode()),
                   ("origin-offset", str(sent.offset).encode()),
                   ("error-class", b"ServerSelectionTimeoutError"),
                   ("error-reason", b"<b>database</b> unreachable")]  # fmt: skip
        await producer.send_and_wait(settings.topic(Topic.DEAD_LETTER), encode(stranded),
                                     key=stranded.subject_id.encode(), headers=headers)  # fmt: skip
    finally:
        await producer.stop()
    stranded_letters = letters.filter(has_text="ServerSelectionTimeoutError")
    row = stranded_letters.filter(has_text="<b>database</b> unreachable")
    await expect(row).to_have_count(1, timeout=30_000)  # the reason as text, not markup
    position = await row.get_attribute("data-position")
    assert position not in before
    await page.screenshot(path=OUT / "dead-letters.png", full_page=True)

    await row.get_by_role("link", name=f"Replay {position}…").click()
    await expect(page.get_by_role("heading", name=f"Dead letter {position}")).to_be_visible()
    await page.get_by_role("button", name=f"Replay to {intake}").click()
    await expect(page.locator(".notice")).to_contain_text(f"dead letter {position} sent back to {intake}")
    await observer.wait_for(app.ApplicationReceived, application_id=stranded.application_id)
    await expect(page.locator(f'#letters tr[data-position="{position}"]')).to_have_count(0, timeout=15_000)
    # the poison one still waits: nobody replayed it, whatever a header said
    await expect(page.locator(f'#letters tr[data-position="{poison_position}"]')).to_have_count(1)
