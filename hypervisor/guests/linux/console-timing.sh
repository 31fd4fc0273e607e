# Shell functions shared by the Linux boot scripts (hypervisor/scripts/test-linux.sh,
# scripts/run-linux-direct.sh), sourced after markers.txt. They read "$log": the console, one line
# per row as "<EPOCHREALTIME><TAB><line>", and "$start", the EPOCHREALTIME QEMU was started at.

# Seconds from QEMU's start to the first console line containing $1 (not its kmsg copy).
wall_to() {
    awk -F'\t' -v start="$start" -v marker="$1" 'index($2, marker) && $2 !~ /\(kmsg\)/ {
        printf "%.3f", $1 - start; found = 1; exit } END { if (!found) printf "-" }' "$log"
}

# The printk timestamp of the kernel-log copy of marker $1 ("[    1.234567] marker (kmsg)").
printk_of() {
    awk -F'\t' -v marker="$1 (kmsg)" 'index($2, marker) { if (match($2, /\[ *[0-9]+\.[0-9]+\]/)) {
        s = substr($2, RSTART + 1, RLENGTH - 2); gsub(/ /, "", s); printf "%s", s; found = 1; exit } }
        END { if (!found) printf "-" }' "$log"
}
