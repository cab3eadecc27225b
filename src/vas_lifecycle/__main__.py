"""``python -m vas_lifecycle``: the command line."""

from vas_lifecycle.cli import run

run()
