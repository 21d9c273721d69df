"""Run the placement service."""

from services.placement.main import create_app
from shared.service import run

run(create_app)
