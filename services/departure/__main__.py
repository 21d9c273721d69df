"""Run the departure service."""

from services.departure.main import create_app
from shared.service import run

run(create_app)
