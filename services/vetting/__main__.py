"""Run the vetting service."""

import asyncio

from services.vetting.main import create_app

asyncio.run(create_app().run())
