"""Development: the embedded default (SQLite, eager tasks, console email)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
