/*
 * hal.h — the hypervisor's one C header: the trap frame layout, per-CPU data,
 * and `static inline` accessors for system registers, barriers, TLB and MMIO.
 *
 * Swift imports this header as module `CHAL` (see module.modulemap); the
 * assembly (exceptions.S, boot.S) includes it for the frame offsets, which are
 * defined ONCE here and pinned with _Static_assert so C, Swift and assembly
 * can never disagree.
 */
#ifndef HVTRACE_HAL_H
#define HVTRACE_HAL_H

/* ---- Trap frame offsets (bytes), shared with assembly -------------------- */
#define TRAP_FRAME_X0          0    /* x0..x30, 31 × 8 bytes                  */
#define TRAP_FRAME_X30         240
#define TRAP_FRAME_ELR         248  /* ELR_EL2: guest PC to return to         */
#define TRAP_FRAME_SPSR        256  /* SPSR_EL2: guest PSTATE                 */
#define TRAP_FRAME_TIMESTAMP   264  /* trace clock read first thing on entry  */
#define TRAP_FRAME_SIZE        272  /* multiple of 16 (SP alignment)          */

/* ---- Per-CPU data offsets (TPIDR_EL2 points at the CPU's PerCPU) ---------- */
#define PER_CPU_CPU_ID         0
#define PER_CPU_STACK_TOP      8
#define PER_CPU_CURRENT_VCPU   16
#define PER_CPU_TRACE_PRODUCER 24
#define PER_CPU_SIZE           32

#define HAL_MAX_CPUS           8
#define HAL_STACK_SIZE         0x8000 /* 32 KiB EL2 stack per physical CPU   */

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stddef.h>

/// The guest registers that every exit saves: the general-purpose registers,
/// the return address and PSTATE, plus the entry timestamp for tracing (the trace
/// clock: CNTPCT_EL0 or PMCCNTR_EL0, whichever vector table is installed).
/// EL1 system registers (SP_EL1 included) are not here: an exit does not
/// change them, so they are switched only when a different vCPU runs.
typedef struct TrapFrame {
    uint64_t x[31];
    uint64_t elr;
    uint64_t spsr;
    uint64_t entryTimestamp;
} TrapFrame;

_Static_assert(offsetof(TrapFrame, x) == TRAP_FRAME_X0, "x0 offset");
_Static_assert(offsetof(TrapFrame, x[30]) == TRAP_FRAME_X30, "x30 offset");
_Static_assert(offsetof(TrapFrame, elr) == TRAP_FRAME_ELR, "elr offset");
_Static_assert(offsetof(TrapFrame, spsr) == TRAP_FRAME_SPSR, "spsr offset");
_Static_assert(offsetof(TrapFrame, entryTimestamp) == TRAP_FRAME_TIMESTAMP, "timestamp offset");
_Static_assert(sizeof(TrapFrame) == TRAP_FRAME_SIZE, "frame size");
_Static_assert(TRAP_FRAME_SIZE % 16 == 0, "frame must keep SP 16-byte aligned");

/// Per physical CPU data; TPIDR_EL2 holds its address.
typedef struct PerCPU {
    uint64_t cpuID;
    uint64_t stackTop;
    void *currentVCpu;
    /// This CPU's trace ring producer (core/Tracing.swift) while tracing is on, NULL while off:
    /// the one predictable branch every trace hook takes.
    void *traceProducer;
} PerCPU;

_Static_assert(offsetof(PerCPU, cpuID) == PER_CPU_CPU_ID, "cpu id offset");
_Static_assert(offsetof(PerCPU, stackTop) == PER_CPU_STACK_TOP, "stack top offset");
_Static_assert(offsetof(PerCPU, currentVCpu) == PER_CPU_CURRENT_VCPU, "vcpu offset");
_Static_assert(offsetof(PerCPU, traceProducer) == PER_CPU_TRACE_PRODUCER, "trace producer offset");
_Static_assert(sizeof(PerCPU) == PER_CPU_SIZE, "per-cpu size");

#define HAL_INLINE static inline __attribute__((always_inline))

/// This CPU's PerCPU (TPIDR_EL2). Not volatile and `const`: TPIDR_EL2 is written once per CPU
/// before any C or Swift runs, so the compiler may read it once per function.
HAL_INLINE __attribute__((const)) PerCPU *hal_this_cpu(void) {
    PerCPU *p; __asm__("mrs %0, tpidr_el2" : "=r"(p)); return p; }

static inline uint64_t trap_frame_get_x(const TrapFrame *f, unsigned n) { return n < 31 ? f->x[n] : 0; }
/// Writes x`n`; n == 31 is XZR (writes are discarded), as in an instruction's register field.
static inline void trap_frame_set_x(TrapFrame *f, unsigned n, uint64_t v) { if (n < 31) f->x[n] = v; }

/* ---- System register accessors -------------------------------------------- */
#define HAL_SYSREG(name)                                                          \
    HAL_INLINE uint64_t read_##name(void) {                                       \
        uint64_t v; __asm__ volatile("mrs %0, " #name : "=r"(v)); return v; }     \
    HAL_INLINE void write_##name(uint64_t v) {                                    \
        __asm__ volatile("msr " #name ", %0" : : "r"(v) : "memory"); }

HAL_SYSREG(esr_el2)    HAL_SYSREG(far_el2)    HAL_SYSREG(hpfar_el2)
HAL_SYSREG(elr_el2)    HAL_SYSREG(spsr_el2)   HAL_SYSREG(hcr_el2)
HAL_SYSREG(vtcr_el2)   HAL_SYSREG(vttbr_el2)  HAL_SYSREG(vbar_el2)
HAL_SYSREG(sctlr_el2)  HAL_SYSREG(tcr_el2)    HAL_SYSREG(ttbr0_el2)
HAL_SYSREG(mair_el2)   HAL_SYSREG(tpidr_el2)  HAL_SYSREG(cptr_el2)
HAL_SYSREG(mdcr_el2)   HAL_SYSREG(cnthctl_el2) HAL_SYSREG(cntvoff_el2)
HAL_SYSREG(vpidr_el2)  HAL_SYSREG(vmpidr_el2)
HAL_SYSREG(cntpct_el0) HAL_SYSREG(cntfrq_el0) HAL_SYSREG(pmccntr_el0)
HAL_SYSREG(pmcr_el0)   HAL_SYSREG(pmccfiltr_el0) HAL_SYSREG(pmcntenset_el0)
HAL_SYSREG(midr_el1)   HAL_SYSREG(mpidr_el1)  HAL_SYSREG(id_aa64mmfr0_el1)
HAL_SYSREG(currentel)  HAL_SYSREG(daif)     HAL_SYSREG(id_aa64dfr0_el1)
/* EL1 context, switched per vCPU (Arm ARM D13.2) */
HAL_SYSREG(sctlr_el1)  HAL_SYSREG(ttbr0_el1)  HAL_SYSREG(ttbr1_el1)
HAL_SYSREG(tcr_el1)    HAL_SYSREG(mair_el1)   HAL_SYSREG(amair_el1)
HAL_SYSREG(vbar_el1)   HAL_SYSREG(contextidr_el1) HAL_SYSREG(tpidr_el1)
HAL_SYSREG(tpidr_el0)  HAL_SYSREG(tpidrro_el0) HAL_SYSREG(sp_el0)
HAL_SYSREG(sp_el1)     HAL_SYSREG(elr_el1)    HAL_SYSREG(spsr_el1)
HAL_SYSREG(esr_el1)    HAL_SYSREG(far_el1)    HAL_SYSREG(afsr0_el1)
HAL_SYSREG(afsr1_el1)  HAL_SYSREG(par_el1)    HAL_SYSREG(cpacr_el1)
HAL_SYSREG(csselr_el1) HAL_SYSREG(cntkctl_el1) HAL_SYSREG(actlr_el1)
HAL_SYSREG(cntv_ctl_el0) HAL_SYSREG(cntv_cval_el0)
HAL_SYSREG(cntp_ctl_el0) HAL_SYSREG(cntp_cval_el0)
HAL_SYSREG(cnthp_ctl_el2) HAL_SYSREG(cnthp_cval_el2)

/* ---- Barriers, TLB, cache, power ------------------------------------------ */
HAL_INLINE void hal_isb(void) { __asm__ volatile("isb" ::: "memory"); }
HAL_INLINE void hal_dsb_sy(void) { __asm__ volatile("dsb sy" ::: "memory"); }
HAL_INLINE void hal_dsb_ish(void) { __asm__ volatile("dsb ish" ::: "memory"); }
HAL_INLINE void hal_dsb_ishst(void) { __asm__ volatile("dsb ishst" ::: "memory"); }
/// Orders earlier stores before later stores for other inner-shareable observers (Arm ARM B2.3.12, DMB).
HAL_INLINE void hal_dmb_ishst(void) { __asm__ volatile("dmb ishst" ::: "memory"); }
/// Orders earlier loads before later loads and stores (inner shareable).
HAL_INLINE void hal_dmb_ishld(void) { __asm__ volatile("dmb ishld" ::: "memory"); }
HAL_INLINE void hal_wfi(void) { __asm__ volatile("wfi" ::: "memory"); }
HAL_INLINE void hal_wfe(void) { __asm__ volatile("wfe" ::: "memory"); }
/// Spends exactly 2 x `iterations` instructions (subs + b.ne per round): the performance gate's
/// injected-work test hook (`make INJECT_DELAY=hvc`, core/InjectedDelay.swift), never in a normal build.
HAL_INLINE void hal_spin(uint64_t iterations) {
    if (iterations == 0) return;
    __asm__ volatile("1: subs %0, %0, #1\n\tb.ne 1b" : "+r"(iterations) : : "cc"); }
/// Invalidates all stage-1 and stage-2 entries of the current VMID (VTTBR_EL2 must hold it).
HAL_INLINE void hal_tlbi_vmalls12e1is(void) { __asm__ volatile("tlbi vmalls12e1is" ::: "memory"); }
/// Invalidates stage-2 entries for one IPA (operand is IPA >> 12), current VMID.
HAL_INLINE void hal_tlbi_ipas2e1is(uint64_t ipaShifted) { __asm__ volatile("tlbi ipas2e1is, %0" : : "r"(ipaShifted) : "memory"); }
HAL_INLINE void hal_tlbi_alle2(void) { __asm__ volatile("tlbi alle2" ::: "memory"); }
/// Cleans and invalidates one data cache line by VA to the point of coherency.
HAL_INLINE void hal_dc_civac(uint64_t va) { __asm__ volatile("dc civac, %0" : : "r"(va) : "memory"); }
HAL_INLINE void hal_ic_iallu(void) { __asm__ volatile("ic iallu" ::: "memory"); }
/// Cleans one data cache line by VA to the point of coherency (data the guest reads with its
/// MMU and caches off).
HAL_INLINE void hal_dc_cvac(uint64_t va) { __asm__ volatile("dc cvac, %0" : : "r"(va) : "memory"); }
HAL_INLINE void hal_sev(void) { __asm__ volatile("sev" ::: "memory"); }
/// CTR_EL0.DminLine (bits [19:16]): log2 of the smallest data cache line in words.
HAL_INLINE uint64_t hal_data_cache_line_size(void) {
    uint64_t ctr; __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr)); return 4ull << ((ctr >> 16) & 0xF);
}

/* ---- Spinlock (Armv8.0 exclusives: Cortex-A72 has no LSE atomics) ---------- */
/// Takes the lock word at `lock` (0 = free): exclusive swap with acquire semantics, waiting
/// in WFE between attempts; `hal_spin_unlock` releases and sends an event.
HAL_INLINE void hal_spin_lock(uint32_t *lock) {
    while (__atomic_exchange_n(lock, 1u, __ATOMIC_ACQUIRE) != 0) {
        while (__atomic_load_n(lock, __ATOMIC_RELAXED) != 0) { __asm__ volatile("wfe" ::: "memory"); }
    }
}
HAL_INLINE void hal_spin_unlock(uint32_t *lock) {
    __atomic_store_n(lock, 0u, __ATOMIC_RELEASE);
    __asm__ volatile("dsb ish\n\tsev" ::: "memory");
}
/// A word shared between physical CPUs, read and written with acquire/release ordering.
HAL_INLINE uint32_t hal_load_acquire32(const uint32_t *word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
HAL_INLINE void hal_store_release32(uint32_t *word, uint32_t value) { __atomic_store_n(word, value, __ATOMIC_RELEASE); }

/// SMC to the firmware (QEMU's built-in PSCI) with up to four arguments; returns x0.
HAL_INLINE uint64_t hal_smc_call(uint64_t fid, uint64_t a1, uint64_t a2, uint64_t a3) {
    register uint64_t x0 __asm__("x0") = fid;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    __asm__ volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) : : "memory");
    return x0;
}

/* ---- MMIO (device memory; volatile, no tearing) ---------------------------- */
HAL_INLINE uint32_t mmio_read32(uint64_t addr) { return *(volatile uint32_t *)addr; }
HAL_INLINE void mmio_write32(uint64_t addr, uint32_t v) { *(volatile uint32_t *)addr = v; }
HAL_INLINE uint8_t mmio_read8(uint64_t addr) { return *(volatile uint8_t *)addr; }
HAL_INLINE void mmio_write8(uint64_t addr, uint8_t v) { *(volatile uint8_t *)addr = v; }

/* ---- Symbols from the linker script and boot.S ---------------------------- */
extern PerCPU hal_per_cpu[HAL_MAX_CPUS];
/// VBAR_EL2 value every CPU installs (boot.S set_per_cpu): one of the two vector tables below.
extern uint64_t hal_vector_table;
/// Vector tables that stamp the trap frame with CNTPCT_EL0 or with PMCCNTR_EL0 (exceptions.S).
extern char hal_vectors[], hal_vectors_cycles[];
HAL_INLINE void hal_select_vectors(int cycleCounter) {
    hal_vector_table = cycleCounter ? (uint64_t)hal_vectors_cycles : (uint64_t)hal_vectors;
    write_vbar_el2(hal_vector_table);
    hal_isb();
}
extern char __image_start[], __image_end[], __page_pool_start[], __page_pool_end[];
static inline uint64_t hal_image_start(void) { return (uint64_t)__image_start; }
static inline uint64_t hal_image_end(void) { return (uint64_t)__image_end; }
static inline uint64_t hal_page_pool_start(void) { return (uint64_t)__page_pool_start; }
static inline uint64_t hal_page_pool_end(void) { return (uint64_t)__page_pool_end; }
/// Bytes the C allocator has handed out (hal/libc.c).
uint64_t hal_heap_used(void);
/// Entry point for secondary physical CPUs (PSCI CPU_ON target, x0 = CPU index).
extern void hal_secondary_entry(void);
static inline uint64_t hal_secondary_entry_address(void) { return (uint64_t)&hal_secondary_entry; }

#endif /* __ASSEMBLER__ */
#endif /* HVTRACE_HAL_H */
