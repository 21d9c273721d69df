"""Run the operators' web console on ENVOL_HTTP_HOST and ENVOL_HTTP_PORT (`envol console` takes options)."""

from __future__ import annotations

import uvicorn

from services.console.app import create_console
from services.console.snapshots import operators_snapshots
from shared.logs import configure_logging
from shared.settings import Settings


def main() -> None:
    settings = Settings.from_env()
    configure_logging("console", settings.log_level, settings.log_format, settings.replica())
    app = create_console(settings, snapshots=operators_snapshots(settings))
    uvicorn.run(app, host=settings.http_host, port=settings.http_port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
