#!/bin/sh
# Turns guests/probe/protocol.txt into Swift constants (enum ProbeProtocol).
set -eu
echo "// Generated from guests/probe/protocol.txt by scripts/gen-protocol.sh. Do not edit."
echo "enum ProbeProtocol {"
grep -v '^#' "$1" | grep -v '^$' | while read -r kind name value; do
  case "$kind" in
    string) printf '  static let %s: StaticString = "%s"\n' "$name" "$value" ;;
    number) printf '  static let %s: UInt64 = %s\n' "$name" "$value" ;;
    *) echo "gen-protocol: unknown kind '$kind'" >&2; exit 1 ;;
  esac
done
echo "}"
