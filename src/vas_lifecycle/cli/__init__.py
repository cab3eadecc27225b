"""The ``vas-lifecycle`` command line and the simulator behind its main job.

Not part of the library proper: the library never imports this package (it needs
the ``cli`` extra, and it uses the test kit's catalogs and invariant checker).
"""

from vas_lifecycle.cli import serve as _serve  # noqa: F401 - registers its commands
from vas_lifecycle.cli.app import main, run

__all__ = ["main", "run"]
