"""Run the vetting service."""

from services.vetting.main import create_app
from shared.service import run

run(create_app)
