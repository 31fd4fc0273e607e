/*
 * exceptions.S — VBAR_EL2: all 16 vectors and the guest register save/restore.
 *
 * Lower-EL (guest) synchronous exceptions and IRQs take the exit path: build a TrapFrame
 * (layout in include/hal.h) at the top of this CPU's EL2 stack — the stack is empty while
 * a guest runs, so the frame address is fixed per CPU — call into Swift with x0 = frame,
 * then restore and ERET. The entry timestamp is read as soon as one register is free, from
 * the trace clock: there are two otherwise identical tables, `hal_vectors` (CNTPCT_EL0) and
 * `hal_vectors_cycles` (PMCCNTR_EL0); tracing picks one at boot (hal_select_vectors), so the
 * hot path never tests which clock is in use. Anything taken from EL2 itself is a hypervisor bug: hv_el2_panic dumps and stops.
 * Kinds passed in x1 to the panic / unexpected handlers: index of the vector (0..15).
 */
#include "include/hal.h"

/* Save x0..x30, ELR_EL2, SPSR_EL2 and the entry timestamp read from `clock`; leaves x0 = frame. */
.macro SAVE_FRAME clock
    sub     sp, sp, #TRAP_FRAME_SIZE
    stp     x0, x1, [sp, #16 * 0]
    mrs     x0, \clock                      // entry timestamp, first free register
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    mrs     x1, elr_el2
    stp     x30, x1, [sp, #TRAP_FRAME_X30]
    mrs     x2, spsr_el2
    stp     x2, x0, [sp, #TRAP_FRAME_SPSR]
    mov     x0, sp
.endm

/* One vector slot (32 instructions max): save, call `handler`, restore + ERET. */
.macro LOWER_VECTOR handler, clock
    .balign 0x80
    SAVE_FRAME \clock
    bl      \handler
    b       hal_return_to_guest
.endm

.macro UNEXPECTED_LOWER index, clock
    .balign 0x80
    SAVE_FRAME \clock
    mov     x1, #\index
    bl      hv_lower_unexpected
    b       hal_return_to_guest
.endm

.macro EL2_PANIC index, clock
    .balign 0x80
    SAVE_FRAME \clock
    mov     x1, #\index
    bl      hv_el2_panic
1:  wfe
    b       1b
.endm

/* The 16 vectors of VBAR_EL2 (Arm ARM D1.10.2), entry timestamps from `clock`. */
.macro VECTOR_TABLE name, clock
    .balign 0x800
    .global \name
\name:
    EL2_PANIC 0, \clock                     // current EL, SP_EL0: sync
    EL2_PANIC 1, \clock                     //   IRQ
    EL2_PANIC 2, \clock                     //   FIQ
    EL2_PANIC 3, \clock                     //   SError
    EL2_PANIC 4, \clock                     // current EL, SP_EL2: sync
    EL2_PANIC 5, \clock                     //   IRQ (EL2 runs with IRQs masked: a bug)
    EL2_PANIC 6, \clock                     //   FIQ
    EL2_PANIC 7, \clock                     //   SError
    LOWER_VECTOR hv_lower_sync_exit, \clock // lower EL, AArch64: sync (HVC, SMC, aborts, traps)
    LOWER_VECTOR hv_lower_irq_exit, \clock  //   IRQ (physical interrupt while the guest ran)
    UNEXPECTED_LOWER 10, \clock             //   FIQ
    UNEXPECTED_LOWER 11, \clock             //   SError
    UNEXPECTED_LOWER 12, \clock             // lower EL, AArch32: sync
    UNEXPECTED_LOWER 13, \clock             //   IRQ
    UNEXPECTED_LOWER 14, \clock             //   FIQ
    UNEXPECTED_LOWER 15, \clock             //   SError
.endm

    .section .text.vectors, "ax"
    VECTOR_TABLE hal_vectors, cntpct_el0
    VECTOR_TABLE hal_vectors_cycles, pmccntr_el0

/* The table set_per_cpu (boot.S) installs; hal_select_vectors changes it. */
    .section .data.vector_table, "aw"
    .balign 8
    .global hal_vector_table
hal_vector_table:
    .quad   hal_vectors

    .text
/* Restore the frame at sp and return to the guest. Also the first entry into a vCPU. */
    .global hal_return_to_guest
hal_return_to_guest:
    ldp     x30, x1, [sp, #TRAP_FRAME_X30]
    ldr     x2, [sp, #TRAP_FRAME_SPSR]
    msr     elr_el2, x1
    msr     spsr_el2, x2
    ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    add     sp, sp, #TRAP_FRAME_SIZE
    eret

/*
 * hal_enter_guest(frame): first entry into a vCPU. The frame must sit at the top of this
 * CPU's stack (PerCPU.stackTop - TRAP_FRAME_SIZE); the current call chain is abandoned.
 */
    .global hal_enter_guest
hal_enter_guest:
    mov     sp, x0
    b       hal_return_to_guest
