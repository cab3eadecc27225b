"""The ``vas-lifecycle`` command line and the simulator behind its main job.

Not part of the library proper: the library never imports this package (it needs
the ``cli`` extra, and it uses the test kit's catalogs and invariant checker).
"""

# app first: without the cli extra it says which extra to install, in one line
from vas_lifecycle.cli.app import main, run  # isort: skip
from vas_lifecycle.cli import serve as _serve  # noqa: F401 - registers its commands

__all__ = ["main", "run"]
