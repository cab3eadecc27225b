#!/usr/bin/env bash
# The main job: a synthetic month of an operator's life (2 000 subscribers, 30 days)
# in a temporary SQLite database, ending with the invariant check over the whole
# history. Exits non-zero if any consent rule was broken. Extra args go to simulate.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/vas-lifecycle simulate "$@"
