#!/usr/bin/env bash
# Every check: lint, format, types, and the whole test suite (extra args go to pytest).
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
echo "== ruff check"
.venv/bin/ruff check src tests examples scripts benchmarks docs/conf.py
echo "== ruff format --check"
.venv/bin/ruff format --check src tests examples scripts benchmarks docs/conf.py
echo "== mypy --strict src"
.venv/bin/mypy --strict src
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
