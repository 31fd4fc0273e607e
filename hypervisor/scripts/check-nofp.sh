#!/bin/sh
# Fails if the ELF contains any FP/SIMD instruction or register (q/d/s/h/b/v registers,
# FP/SIMD mnemonics, FPCR/FPSR accesses). The hypervisor relies on this to leave the guest's
# FP/SIMD state untouched without saving it (CPTR_EL2.TFP = 0).
set -eu
OBJDUMP=$1
ELF=$2
found=$("$OBJDUMP" -d --no-show-raw-insn "$ELF" | awk -F'\t' 'NF >= 3 { print $2 " " $3 }' |
  sed -e 's/<[^>]*>//g' -e 's|//.*||' |
  grep -E '(^|[^a-z0-9_])[qdshbv][0-9]{1,2}([^0-9]|$)|^(f[a-z]+|movi|dup|ins|umov|smov|ld[1-4]|st[1-4]|scvtf|ucvtf|cnt|addv|uaddlv|ext|zip|uzp|tbl) |fpcr|fpsr' || true)
if [ -n "$found" ]; then
  echo "check-nofp: FP/SIMD instructions in $ELF:" >&2
  echo "$found" | head -20 >&2
  exit 1
fi
echo "check-nofp: $ELF has no FP/SIMD instructions ($("$OBJDUMP" -d "$ELF" | grep -cE '^[0-9a-f]+: ') instructions checked)"
