"""Run the application service."""

import asyncio

from services.application.main import create_app

asyncio.run(create_app().run())
