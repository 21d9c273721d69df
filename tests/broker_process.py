"""A broker of the tests' own, started with deploy/local/kafka.sh `run` in the foreground (the way a
container runs it), for the tests that need listeners the shared test broker does not have."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from shared.kafka import client_options
from shared.settings import Settings
from tests.servers import ROOT

START_SECONDS = 120


async def topics_of(settings: Settings) -> list[str]:
    """The topics a client with `settings` sees: a connection, an authentication and a metadata request."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=10_000)
    await admin.start()
    try:
        return await admin.list_topics()
    finally:
        await admin.close()


@asynccontextmanager
async def running_broker(
    environment: dict[str, str], log: Path, ready: Callable[[], Awaitable[object]]
) -> AsyncIterator[None]:
    """Run kafka.sh with `environment` until `ready()` succeeds; stop it (its whole process group) after."""
    process = await asyncio.create_subprocess_exec(
        "bash",
        str(ROOT / "deploy" / "local" / "kafka.sh"),
        "run",
        env=os.environ | environment,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def tail() -> str:
        return log.read_text()[-3000:]

    try:
        deadline = asyncio.get_running_loop().time() + START_SECONDS
        while True:
            assert process.returncode is None, f"kafka.sh run exited ({process.returncode}):\n{tail()}"
            try:
                await ready()
                break
            except (KafkaError, OSError, ValueError):
                if asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"not ready after {START_SECONDS}s:\n{tail()}") from None
                await asyncio.sleep(1)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), timeout=30)
        except TimeoutError:
            os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
