"""Run the departure service."""

import asyncio

from services.departure.main import create_app

asyncio.run(create_app().run())
