#!/usr/bin/env bash
# The project's test command: everything CI runs after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

swift build
swift test
