"""Run the application service."""

from services.application.main import create_app
from shared.service import run

run(create_app)
