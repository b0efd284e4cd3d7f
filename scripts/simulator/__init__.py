"""Provider simulator: an HTTP server speaking the OpenAI and Anthropic wire formats."""

from scripts.simulator.app import create_app
from scripts.simulator.server import BackgroundSimulator
from scripts.simulator.state import SimState

__all__ = ["BackgroundSimulator", "SimState", "create_app"]
