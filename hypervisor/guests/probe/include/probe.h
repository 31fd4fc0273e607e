/*
 * probe.h — what the probe guest (EL1, MMU off) needs from assembly: hypervisor calls through
 * HVC and SMC, system registers, and single-instruction device accesses (each access must be
 * exactly one load/store so an abort handler can step over it by 4 bytes).
 */
#ifndef PROBE_H
#define PROBE_H
#include <stdint.h>

#define PROBE_INLINE static inline __attribute__((always_inline))

/// SMCCC call through HVC #0 (x0 = function id, x1..x3 arguments); returns x0.
PROBE_INLINE uint64_t probe_hvc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
    return x0;
}

/// SMCCC call through SMC #0 (trapped to the hypervisor by HCR_EL2.TSC).
PROBE_INLINE uint64_t probe_smc(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    __asm__ volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
    return x0;
}

/// `count` null hypercalls in a tight loop; returns PMCCNTR_EL0 cycles spent.
/// With `hvc` replaced by `nop` (probe_null_loop) the same loop measures its own overhead.
PROBE_INLINE uint64_t probe_hvc_loop(uint64_t fid, uint64_t count, uint64_t *nonzero) {
    uint64_t start, end, bad = 0;
    __asm__ volatile(
        "isb\n mrs %[start], pmccntr_el0\n"
        "1: mov x0, %[fid]\n hvc #0\n cbz x0, 2f\n add %[bad], %[bad], #1\n"
        "2: subs %[count], %[count], #1\n b.ne 1b\n"
        "isb\n mrs %[end], pmccntr_el0\n"
        : [start] "=&r"(start), [end] "=&r"(end), [count] "+r"(count), [bad] "+r"(bad)
        : [fid] "r"(fid)
        : "x0", "x1", "x2", "x3", "memory", "cc");
    *nonzero = bad;
    return end - start;
}

PROBE_INLINE uint64_t probe_null_loop(uint64_t fid, uint64_t count) {
    uint64_t start, end, bad = 0;
    __asm__ volatile(
        "isb\n mrs %[start], pmccntr_el0\n"
        "1: mov x0, %[fid]\n mov x0, xzr\n cbz x0, 2f\n add %[bad], %[bad], #1\n"
        "2: subs %[count], %[count], #1\n b.ne 1b\n"
        "isb\n mrs %[end], pmccntr_el0\n"
        : [start] "=&r"(start), [end] "=&r"(end), [count] "+r"(count), [bad] "+r"(bad)
        : [fid] "r"(fid)
        : "x0", "memory", "cc");
    return end - start;
}

/*
 * Compare mode (Compare.swift): timed loops that work under any hypervisor. Each returns the
 * CNTVCT_EL0 ticks its `count` iterations took and counts in *mismatches the iterations whose
 * result differed from `expected`. x0-x3 are clobbered: KVM's SMCCC handler writes all four.
 */
#define PROBE_TIMED_CALL(name, instruction)                                                   \
    PROBE_INLINE uint64_t name(uint64_t fid, uint64_t count, uint64_t expected, uint64_t *mismatches) { \
        uint64_t start, end, bad = 0;                                                         \
        __asm__ volatile(                                                                     \
            "isb\n mrs %[start], cntvct_el0\n"                                                \
            "1: mov x0, %[fid]\n " instruction "\n cmp x0, %[expected]\n cinc %[bad], %[bad], ne\n" \
            "subs %[count], %[count], #1\n b.ne 1b\n"                                         \
            "isb\n mrs %[end], cntvct_el0\n"                                                  \
            : [start] "=&r"(start), [end] "=&r"(end), [count] "+r"(count), [bad] "+r"(bad)    \
            : [fid] "r"(fid), [expected] "r"(expected)                                        \
            : "x0", "x1", "x2", "x3", "memory", "cc");                                        \
        *mismatches = bad;                                                                    \
        return end - start;                                                                   \
    }
PROBE_TIMED_CALL(probe_timed_hvc, "hvc #0")
PROBE_TIMED_CALL(probe_timed_smc, "smc #0")
/* The same loop without the call: its own cost, subtracted by the host. */
PROBE_TIMED_CALL(probe_timed_no_call, "mov x0, %[expected]")

/// `count` 32-bit loads from `address` (one MMIO exit each under a hypervisor that emulates it).
PROBE_INLINE uint64_t probe_timed_load32(uint64_t address, uint64_t count, uint64_t expected, uint64_t *mismatches) {
    uint64_t start, end, bad = 0, value;
    __asm__ volatile(
        "isb\n mrs %[start], cntvct_el0\n"
        "1: ldr %w[value], [%[address]]\n cmp %[value], %[expected]\n cinc %[bad], %[bad], ne\n"
        "subs %[count], %[count], #1\n b.ne 1b\n"
        "isb\n mrs %[end], cntvct_el0\n"
        : [start] "=&r"(start), [end] "=&r"(end), [count] "+r"(count), [bad] "+r"(bad), [value] "=&r"(value)
        : [address] "r"(address), [expected] "r"(expected)
        : "memory", "cc");
    *mismatches = bad;
    return end - start;
}

/// `count` 64-bit stores of `value` to `address`.
PROBE_INLINE uint64_t probe_timed_store64(uint64_t address, uint64_t count, uint64_t value) {
    uint64_t start, end;
    __asm__ volatile(
        "isb\n mrs %[start], cntvct_el0\n"
        "1: str %[value], [%[address]]\n subs %[count], %[count], #1\n b.ne 1b\n"
        "isb\n mrs %[end], cntvct_el0\n"
        : [start] "=&r"(start), [end] "=&r"(end), [count] "+r"(count)
        : [address] "r"(address), [value] "r"(value)
        : "memory", "cc");
    return end - start;
}

/// `count` reads of ACTLR_EL1 (trapped by HCR_EL2.TACR under both hypervisors).
PROBE_INLINE uint64_t probe_timed_sysreg_read(uint64_t count) {
    uint64_t start, end, value;
    __asm__ volatile(
        "isb\n mrs %[start], cntvct_el0\n"
        "1: mrs %[value], actlr_el1\n subs %[count], %[count], #1\n b.ne 1b\n"
        "isb\n mrs %[end], cntvct_el0\n"
        : [start] "=&r"(start), [end] "=&r"(end), [count] "+r"(count), [value] "=&r"(value)
        :
        : "memory", "cc");
    return end - start;
}

/// The loops above without their load/store/MRS (the same instruction count otherwise).
PROBE_INLINE uint64_t probe_timed_empty(uint64_t count) {
    uint64_t start, end;
    __asm__ volatile(
        "isb\n mrs %[start], cntvct_el0\n"
        "1: nop\n subs %[count], %[count], #1\n b.ne 1b\n"
        "isb\n mrs %[end], cntvct_el0\n"
        : [start] "=&r"(start), [end] "=&r"(end), [count] "+r"(count)
        :
        : "memory", "cc");
    return end - start;
}

PROBE_INLINE uint64_t probe_counter(void) {
    uint64_t v; __asm__ volatile("isb\n mrs %0, cntvct_el0" : "=r"(v) :: "memory"); return v;
}

#define PROBE_SYSREG(name)                                                         \
    PROBE_INLINE uint64_t read_##name(void) {                                      \
        uint64_t v; __asm__ volatile("mrs %0, " #name : "=r"(v)); return v; }      \
    PROBE_INLINE void write_##name(uint64_t v) {                                   \
        __asm__ volatile("msr " #name ", %0" : : "r"(v) : "memory"); }
PROBE_SYSREG(pmccntr_el0) PROBE_SYSREG(pmcr_el0) PROBE_SYSREG(pmcntenset_el0)
PROBE_SYSREG(pmccfiltr_el0)
PROBE_SYSREG(cntfrq_el0) PROBE_SYSREG(cntp_tval_el0) PROBE_SYSREG(cntp_ctl_el0)
PROBE_SYSREG(actlr_el1) PROBE_SYSREG(sctlr_el1) PROBE_SYSREG(esr_el1) PROBE_SYSREG(far_el1)
PROBE_SYSREG(cpacr_el1) PROBE_SYSREG(elr_el1)
PROBE_SYSREG(cntv_cval_el0) PROBE_SYSREG(cntv_ctl_el0)
PROBE_INLINE uint64_t read_mpidr_el1(void) { uint64_t v; __asm__ volatile("mrs %0, mpidr_el1" : "=r"(v)); return v; }

PROBE_INLINE void probe_irq_enable(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
PROBE_INLINE void probe_irq_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }
PROBE_INLINE void probe_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
PROBE_INLINE void probe_isb(void) { __asm__ volatile("isb" ::: "memory"); }

/* One-instruction device accesses. */
PROBE_INLINE uint64_t probe_load64(uint64_t a) { uint64_t v; __asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
PROBE_INLINE uint32_t probe_load32(uint64_t a) { uint32_t v; __asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
PROBE_INLINE uint16_t probe_load16(uint64_t a) { uint32_t v; __asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return (uint16_t)v; }
PROBE_INLINE uint8_t probe_load8(uint64_t a) { uint32_t v; __asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory"); return (uint8_t)v; }
PROBE_INLINE uint64_t probe_load8_signed(uint64_t a) { uint64_t v; __asm__ volatile("ldrsb %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
PROBE_INLINE uint64_t probe_load16_signed(uint64_t a) { uint64_t v; __asm__ volatile("ldrsh %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
PROBE_INLINE uint64_t probe_load32_signed(uint64_t a) { uint64_t v; __asm__ volatile("ldrsw %0, [%1]" : "=r"(v) : "r"(a) : "memory"); return v; }
PROBE_INLINE void probe_store64(uint64_t a, uint64_t v) { __asm__ volatile("str %0, [%1]" : : "r"(v), "r"(a) : "memory"); }
PROBE_INLINE void probe_store32(uint64_t a, uint32_t v) { __asm__ volatile("str %w0, [%1]" : : "r"(v), "r"(a) : "memory"); }
PROBE_INLINE void probe_store16(uint64_t a, uint16_t v) { __asm__ volatile("strh %w0, [%1]" : : "r"((uint32_t)v), "r"(a) : "memory"); }
PROBE_INLINE void probe_store8(uint64_t a, uint8_t v) { __asm__ volatile("strb %w0, [%1]" : : "r"((uint32_t)v), "r"(a) : "memory"); }

/// Address of _start (the entry point the hypervisor jumped to).
extern char _start[];
PROBE_INLINE uint64_t probe_entry_address(void) { return (uint64_t)_start; }

/* The hostile mode's one-instruction executor (start.S). */
void hostile_exec(uint64_t registers[8]);
void hostile_set_instruction(uint32_t instruction);
/// The probe's read-only image (code and constants): _start up to the end of .rodata.
extern char __image_readonly_end[];
PROBE_INLINE uint64_t probe_image_readonly_end(void) { return (uint64_t)__image_readonly_end; }
extern char __bss_end[];
PROBE_INLINE uint64_t probe_image_end(void) { return (uint64_t)__bss_end; }

#endif
