#!/bin/sh
# Proves that a TRACE=0 hv.elf contains no trace producer: no RingProducer/RecordEncoder symbol,
# no read of PMCCNTR_EL0 outside the vector table, and the exit handlers never touch
# PerCPU.traceProducer (offset 24 from TPIDR_EL2).
#   scripts/check-trace-off.sh OBJDUMP hv.elf
set -eu
objdump=$1 elf=$2
symbols=$("$objdump" -t "$elf" | grep -E 'RingProducer|RecordEncoder|Varint|TraceEvent' || true)
if [ -n "$symbols" ]; then
  echo "check-trace-off: producer code left in $elf:"; echo "$symbols"; exit 1
fi
"$objdump" -d --no-show-raw-insn "$elf" > "$elf.dis"
for handler in hv_lower_sync_exit hv_lower_irq_exit; do
  body=$(awk -v f="<$handler>:" '$2 == f {on=1; next} on && /^$/ {exit} on' "$elf.dis")
  [ -n "$body" ] || { echo "check-trace-off: $handler not found"; exit 1; }
  if printf '%s\n' "$body" | grep -qE 'pmccntr_el0|dmb\s+ish(st|ld)'; then
    echo "check-trace-off: $handler still reads the trace clock or publishes pages"; exit 1
  fi
done
echo "check-trace-off: no trace producer in $elf ($(printf '%s\n' "$(awk '/<hv_lower_sync_exit>:/{on=1;next} on&&/^$/{exit} on' "$elf.dis")" | wc -l) instructions in hv_lower_sync_exit)"
