#!/usr/bin/env bash
# Build the documentation site into site/ with every warning an error (a broken link,
# a reference to nothing, bad markup), then say where to open it. The test suite runs
# the same build (tests/test_site.py). Extra args go to sphinx-build.
set -euo pipefail
source "$(dirname "$0")/_venv.sh"
.venv/bin/sphinx-build -E -W -n --keep-going -q -b html "$@" docs site
echo "Built: open site/index.html in a browser (or: python3 -m http.server -d site 8000)"
