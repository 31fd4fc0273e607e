#!/usr/bin/env bash
# Installs the real readers the test suites check hvtrace's output with: Debian's chromium
# (headless: renders the HTML reports, runs their JavaScript), tmux (drives `hvtrace top`), and a
# Python virtual environment in cache/test-readers with the pinned PyPI readers of
# scripts/test-readers.txt (DuckDB for the CSV export, hdrhistogram for the .hlog, jsonschema for
# the Chrome trace JSON). Idempotent: reinstalls the environment only when the pins change.
# Called by scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-debian-packages.sh chromium tmux python3-venv

environment=cache/test-readers
stamp="$environment/installed-from"
if [ -x "$environment/bin/python3" ] && [ -f "$stamp" ] && cmp -s "$stamp" scripts/test-readers.txt; then
    exit 0
fi
echo "setup-test-readers: creating $environment (pip install -r scripts/test-readers.txt)"
rm -rf "$environment"
mkdir -p cache
/usr/bin/python3 -m venv "$environment"
"$environment/bin/pip" install --quiet --disable-pip-version-check -r scripts/test-readers.txt
cp scripts/test-readers.txt "$stamp"
