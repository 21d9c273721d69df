"""Run the placement service."""

import asyncio

from services.placement.main import create_app

asyncio.run(create_app().run())
