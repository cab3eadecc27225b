#!/usr/bin/env bash
# The main job: a 7-day free trial, end to end, printed as a dated timeline.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
exec .venv/bin/python examples/trial_expiry.py "$@"
