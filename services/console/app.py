"""The console's web app: server-rendered pages over the read model, updated live by server-sent events.

One consumer (`follow`) folds every record of the system's topics into the `View` as it arrives, starting
from the latest snapshot of the view in the operators' database (services/console/snapshots.py), which a
third task writes every half minute the view changed; every few seconds a fourth reads the consumer
groups' lag. A page is rendered from the view; an open page
receives its sections again, rendered, whenever the view changes. Replaying a dead letter reads that one
record, asks for a confirmation, and sends it back by the same rule as `envol dlq replay` (intake topics
only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from services.cli.deadletters import dead_letter_at, refusal, replay
from services.cli.lag import Behind, lag_by_partition
from services.cli.reading import position_key, read
from services.console.access import COOKIE, SESSION_SECONDS, Access
from services.console.snapshots import FOLDED, Positions, Snapshots, fold
from services.console.view import View

log = logging.getLogger("envol.console")
HERE = Path(__file__).parent
LAG_EVERY_SECONDS = 3.0
SNAPSHOT_EVERY_SECONDS = 30.0
COALESCE_SECONDS = 0.2  # an open page gets at most about five updates a second, however busy the topics
POSITION = re.compile(r"^(\d{1,6}):(\d{1,19})$")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
Endpoint = Callable[[Request], Awaitable[Response]]
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True)
)


class Console:
    """The read model, kept by its consumer, and what is known about the consumer groups' lag."""

    def __init__(self, settings: Any, snapshots: Snapshots | None = None) -> None:
        self.settings = settings
        self.snapshots = snapshots  # None: the view is rebuilt from the topics at every start
        self.view = View()
        self.positions: Positions = {}  # where the view stands in each partition it folds
        self.saved_version: tuple[int, int] | None = None  # the view (`saved_mark`) last snapshotted
        self.lag: list[Behind] = []
        self.problems: dict[str, str] = {}  # what is out of reach now, shown at the top of every page
        self.changed = asyncio.Condition()
        self.lag_read = False
        self.rendered: dict[tuple[str | None, str | None], tuple[tuple[int, int, int], dict[str, str]]] = {}
        self.others = 0  # grows when the lag or a problem changes (the view has its own version)

    @property
    def saved_mark(self) -> tuple[int, int]:
        """Changes whenever the view folds a record (and so its positions move): the history counts
        records the pages do not show."""
        return id(self.view), self.view.records

    @property
    def revision(self) -> tuple[int, int, int]:
        """Changes whenever a page's sections would render differently."""
        return id(self.view), self.view.version, self.others

    def problem(self, part: str, what: str | None) -> None:
        if self.problems.get(part) != what:
            self.others += 1
            if what is None:
                self.problems.pop(part, None)
            else:
                self.problems[part] = what

    async def notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def follow(self) -> None:
        """Fold every record from the latest snapshot's positions (the start of the topics without one),
        then as they come; start over from the snapshot after a failure."""
        while True:
            try:
                await self.restore()
                reading = read(self.settings, FOLDED, follow=True, from_start=True, starting=self.positions)
                async for seen in reading:
                    self.problem("topics", None)
                    fold(self.view, seen)
                    self.positions[position_key(seen.record.topic, seen.partition)] = seen.offset + 1
                    await self.notify()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.exception("reading the read model or the topics failed; starting over in 2 s")
                if "snapshot" not in self.problems:
                    self.problem("topics", f"the topics cannot be read ({type(error).__name__})")
                await self.notify()
                await asyncio.sleep(2)

    async def restore(self) -> None:
        """Start from the latest snapshot, or from nothing when there is none. One that cannot be read
        (the database out of reach, a snapshot half gone) fails the start, which `follow` tries again:
        a view rebuilt from the topics alone would miss what retention deleted, and its save would
        replace the snapshot that has it."""
        self.view, self.positions = View(), {}  # no positions: nothing is saved until it is restored
        if self.snapshots is not None:
            try:
                found = await self.snapshots.load()
            except Exception as error:
                self.problem("snapshot", f"the saved read model cannot be read ({type(error).__name__})")
                await self.notify()
                raise
            self.problem("snapshot", None)
            if found is not None:
                self.view, self.positions = found.view, found.positions
                log.info("read model restored: %d volunteers, as of %s", len(self.view.volunteers),
                         found.taken_at)  # fmt: skip
        self.saved_version = self.saved_mark
        await self.notify()

    async def keep_snapshots(self, every: float = SNAPSHOT_EVERY_SECONDS) -> None:
        """Save the view every `every` seconds it changed, so a restart reads only the records since."""
        assert self.snapshots is not None
        while True:
            await asyncio.sleep(every)
            version = self.saved_mark
            if version == self.saved_version or not self.positions:
                continue
            try:
                size = await self.snapshots.save(self.view, self.positions)
                self.saved_version = version
                self.problem("snapshot", None)
                log.info("read model saved: %d volunteers, %d bytes", len(self.view.volunteers), size)
            except Exception as error:
                log.exception("saving the read model failed; trying again in %.0f s", every)
                self.problem("snapshot", f"the read model cannot be saved ({type(error).__name__})")
                await self.notify()

    async def watch_lag(self) -> None:
        while True:
            try:
                lag = await lag_by_partition(self.settings)
                if lag != self.lag or not self.lag_read:
                    self.lag, self.others, self.lag_read = lag, self.others + 1, True
                self.problem("lag", None)
            except Exception as error:
                log.exception("reading the consumer groups' lag failed")
                self.problem("lag", f"the lag cannot be read ({type(error).__name__})")
            await self.notify()
            await asyncio.sleep(LAG_EVERY_SECONDS)

    def sections(self, volunteer: str | None = None, query: str | None = None) -> dict[str, str]:
        """The live parts of a page, rendered once per change of the view, whichever pages are open: the
        overview's, one volunteer's timeline, or the volunteers a search finds."""
        revision, page_of = self.revision, (volunteer, query)
        cached = self.rendered.get(page_of)
        if cached is None or cached[0] != revision:
            if len(self.rendered) > 1000:  # timelines and searches of pages long closed
                self.rendered.clear()
            cached = self.rendered[page_of] = (revision, self._render(volunteer, query))
        return cached[1]

    def _render(self, volunteer: str | None, query: str | None) -> dict[str, str]:
        shared = {"problems": render("_problems.html", problems=self.problems)}
        if volunteer is not None:
            return shared | {"timeline": render("_timeline.html", v=self.view.volunteers.get(volunteer))}
        if query is not None:
            return shared | {"found": render("_found.html", found=self.view.search(query))}
        stages, schemes, counts = self.view.funnel()
        letters = [(one, refusal(self.settings, one.origin_topic)) for one in self.view.pending_letters()]
        return shared | {
            "funnel": render("_funnel.html", stages=stages, schemes=schemes, counts=counts,
                             total=len(self.view.volunteers)),
            "openings": render("_openings.html", openings=self.view.open_openings()),
            "lag": render("_lag.html", rows=self.lag),
            "letters": render("_letters.html", letters=letters, unreadable=self.view.unreadable),
        }  # fmt: skip


def render(name: str, **values: Any) -> str:
    return templates.get_template(name).render(**values)


def page(name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(render(name, **values), status_code=status_code, headers=SECURITY_HEADERS)


def create_console(
    settings: Any,
    *,
    follow: bool = True,
    access: Access | None = None,
    snapshots: Snapshots | None = None,
) -> Starlette:
    """The console's ASGI app, its consumer, lag watcher and snapshots (in `snapshots`, else none) running
    while it serves (unless not `follow`: a test then feeds `app.state.console.view` itself). Every page
    but the sign-in page, `/health` and `/ready` is for signed-in operators (`access`: from the console's
    passwords file by default)."""
    console = Console(settings, snapshots if follow else None)
    access = access or Access.from_settings(settings)

    async def sign_in(request: Request) -> Response:
        target = safe_target(request.query_params.get("next"))
        if request.method == "GET":
            return page("login.html", target=target, sections={})
        form = await form_of(request)
        session = same_origin(request) and access.sign_in(
            form.get("name", [""])[0], form.get("password", [""])[0]
        )
        if not session:
            log.warning("a sign-in was refused")
            wrong = "Wrong name or password (after five wrong tries, wait a minute)."
            return page("login.html", 401, target=target, error=wrong, sections={})
        log.info("operator %s signed in", access.operator(session))
        done = RedirectResponse(target, status_code=303)
        done.set_cookie(COOKIE, session, max_age=SESSION_SECONDS, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")  # fmt: skip
        return done

    async def sign_out(request: Request) -> Response:
        done = RedirectResponse("/login", status_code=303)
        if same_origin(request):
            access.sign_out(request.cookies.get(COOKIE))
            done.delete_cookie(COOKIE)
        return done

    def signed_in(endpoint: Endpoint, *, stream: bool = False) -> Endpoint:
        """`endpoint` for a signed-in operator; anyone else is sent to sign in (a stream refused: 401)."""

        async def guarded(request: Request) -> Response:
            operator = access.operator(request.cookies.get(COOKIE))
            if operator is None:
                if stream:
                    return Response(status_code=401, headers=SECURITY_HEADERS)
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?{urlencode({'next': here})}", status_code=303)
            request.state.operator = operator
            return await endpoint(request)

        return guarded

    async def overview(request: Request) -> Response:
        return page("overview.html", sections=console.sections(), notice=request.query_params.get("notice"))

    async def volunteers(request: Request) -> Response:
        query = request.query_params.get("q", "")[:100]
        return page("search.html", query=query, sections=console.sections(query=query))

    async def volunteer(request: Request) -> Response:
        wanted = request.path_params["application_id"]
        if wanted not in console.view.volunteers:
            return page("missing.html", 404, what=f"no volunteer {wanted}", sections=console.sections())
        return page("volunteer.html", application_id=wanted, sections=console.sections(wanted))

    async def updates(request: Request) -> Response:
        wanted = request.query_params.get("volunteer") or None
        query = request.query_params["q"][:100] if "q" in request.query_params else None

        async def stream() -> AsyncIterator[str]:
            sent = None
            # the session is checked again at every pass: a stream ends with its session (expired, signed out)
            while not await request.is_disconnected() and access.operator(request.cookies.get(COOKIE)):
                if console.revision != sent:
                    sent = console.revision
                    yield f"data: {json.dumps(console.sections(wanted, query))}\n\n"
                async with console.changed:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(console.changed.wait(), 15)
                yield ": still here\n\n"  # a comment: proxies keep the stream open, a gone client is noticed
                await asyncio.sleep(COALESCE_SECONDS)

        headers = SECURITY_HEADERS | {"Cache-Control": "no-store"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def letter(request: Request) -> Response:
        found = POSITION.match(request.path_params["position"])
        known = found and found[0] in console.view.letters  # a position this console has seen
        letter = known and found and await dead_letter_at(settings, int(found[1]), int(found[2]))
        if not letter:
            return page("missing.html", 404, what="no such dead letter", sections=console.sections())
        why = refusal(settings, letter.origin_topic)
        if request.method == "GET":
            return page("replay.html", letter=letter, refused=why, sections=console.sections())
        if not same_origin(request):
            return page("missing.html", 403, what="a replay is asked from the console's own page",
                        sections=console.sections())  # fmt: skip
        form = await form_of(request)
        if form.get("confirm") != ["replay"] or why is not None:
            return page("replay.html", 400, letter=letter, refused=why, sections=console.sections())
        await replay(settings, [letter])
        log.info("operator %s replayed dead letter %s to %s", request.state.operator, letter.position,
                 letter.origin_topic)  # fmt: skip
        notice = f"dead letter {letter.position} sent back to {letter.origin_topic}"
        return RedirectResponse(f"/?notice={notice}", status_code=303)

    async def health(request: Request) -> Response:
        return JSONResponse({"alive": True, "records": console.view.records, "problems": console.problems})

    async def ready(request: Request) -> Response:
        """Ready once the broker answered (the lag was read) and the topics are being read."""
        fit = console.lag_read and not console.problems
        return JSONResponse({"ready": fit, "problems": console.problems}, status_code=200 if fit else 503)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        work = [console.follow(), console.watch_lag()] if follow else []
        work += [console.keep_snapshots()] if console.snapshots is not None else []
        tasks = [asyncio.create_task(w) for w in work]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    routes = [
        Route("/login", sign_in, methods=["GET", "POST"]),
        Route("/logout", sign_out, methods=["POST"]),
        Route("/", signed_in(overview)),
        Route("/volunteers", signed_in(volunteers)),
        Route("/volunteers/{application_id}", signed_in(volunteer)),
        Route("/updates", signed_in(updates, stream=True)),
        Route("/dead-letters/{position}", signed_in(letter), methods=["GET", "POST"]),
        Route("/health", health),
        Route("/ready", ready),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = console
    return app


async def form_of(request: Request) -> dict[str, list[str]]:
    """A posted form's fields (its first 4 KiB: every form of the console is small)."""
    return parse_qs((await request.body())[:4096].decode(errors="replace"))


def safe_target(target: str | None) -> str:
    """Where to go once signed in: a path of this console, never another site (`//host`, `https://…`)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def same_origin(request: Request) -> bool:
    """Whether a form was sent from a page of this console (the browser's Origin, else its Referer)."""
    sent = request.headers.get("origin") or request.headers.get("referer") or ""
    return urlsplit(sent).netloc == request.headers.get("host", "")
