/*
 * exceptions.S — VBAR_EL2: all 16 vectors and the guest register save/restore.
 *
 * Lower-EL (guest) synchronous exceptions and IRQs take the exit path: build a TrapFrame
 * (layout in include/hal.h) at the top of this CPU's EL2 stack — the stack is empty while
 * a guest runs, so the frame address is fixed per CPU — call into Swift with x0 = frame,
 * then restore and ERET. The entry timestamp (CNTPCT_EL0) is read as soon as one register
 * is free. Anything taken from EL2 itself is a hypervisor bug: hv_el2_panic dumps and stops.
 * Kinds passed in x1 to the panic / unexpected handlers: index of the vector (0..15).
 */
#include "include/hal.h"

/* Save x0..x30, ELR_EL2, SPSR_EL2 and the entry timestamp; leaves x0 = frame. */
.macro SAVE_FRAME
    sub     sp, sp, #TRAP_FRAME_SIZE
    stp     x0, x1, [sp, #16 * 0]
    mrs     x0, cntpct_el0                  // entry timestamp, first free register
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
.macro LOWER_VECTOR handler
    .balign 0x80
    SAVE_FRAME
    bl      \handler
    b       hal_return_to_guest
.endm

.macro UNEXPECTED_LOWER index
    .balign 0x80
    SAVE_FRAME
    mov     x1, #\index
    bl      hv_lower_unexpected
    b       hal_return_to_guest
.endm

.macro EL2_PANIC index
    .balign 0x80
    SAVE_FRAME
    mov     x1, #\index
    bl      hv_el2_panic
1:  wfe
    b       1b
.endm

    .section .text.vectors, "ax"
    .balign 0x800
    .global hal_vectors
hal_vectors:
    EL2_PANIC 0                             // current EL, SP_EL0: sync
    EL2_PANIC 1                             //   IRQ
    EL2_PANIC 2                             //   FIQ
    EL2_PANIC 3                             //   SError
    EL2_PANIC 4                             // current EL, SP_EL2: sync
    EL2_PANIC 5                             //   IRQ (EL2 runs with IRQs masked: a bug)
    EL2_PANIC 6                             //   FIQ
    EL2_PANIC 7                             //   SError
    LOWER_VECTOR hv_lower_sync_exit         // lower EL, AArch64: sync (HVC, SMC, aborts, traps)
    LOWER_VECTOR hv_lower_irq_exit          //   IRQ (physical interrupt while the guest ran)
    UNEXPECTED_LOWER 10                     //   FIQ
    UNEXPECTED_LOWER 11                     //   SError
    UNEXPECTED_LOWER 12                     // lower EL, AArch32: sync
    UNEXPECTED_LOWER 13                     //   IRQ
    UNEXPECTED_LOWER 14                     //   FIQ
    UNEXPECTED_LOWER 15                     //   SError

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
