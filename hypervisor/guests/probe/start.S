/*
 * start.S — the probe guest's entry at EL1 (MMU off) and its EL1 vector table.
 * x1 carries the probe mode from the hypervisor (see protocol.txt); x0 is ignored, as NimbOS does,
 * except by the hostile mode (seed and operation count).
 */
    .section .text.boot, "ax"
    .global _start
_start:
    mov     x19, x1
    mov     x20, x0
    adrp    x9, probe_stack_top
    add     x9, x9, :lo12:probe_stack_top
    mov     sp, x9
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
1:  cmp     x9, x10
    b.hs    2f
    str     xzr, [x9], #8
    b       1b
2:  adrp    x9, probe_vectors
    add     x9, x9, :lo12:probe_vectors
    msr     vbar_el1, x9
    isb
    mov     x0, x19
    mov     x1, x20
    bl      probe_main
3:  wfi
    b       3b

/* Save the caller-saved registers, call `handler`, restore, ERET. */
.macro HANDLER handler
    .balign 0x80
    sub     sp, sp, #192
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    str     x30, [sp, #160]
    bl      \handler
    b       probe_restore
.endm

.macro UNEXPECTED index
    .balign 0x80
    mov     x0, #\index
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    bl      probe_unexpected
4:  wfi
    b       4b
.endm

    .section .text.vectors, "ax"
    .balign 0x800
probe_vectors:
    UNEXPECTED 0
    UNEXPECTED 1
    UNEXPECTED 2
    UNEXPECTED 3
    HANDLER probe_sync_exception     // current EL with SP_EL1: synchronous (injected aborts)
    HANDLER probe_irq                // current EL with SP_EL1: IRQ (virtual, via GICV)
    UNEXPECTED 6
    UNEXPECTED 7
    UNEXPECTED 8
    UNEXPECTED 9
    UNEXPECTED 10
    UNEXPECTED 11
    UNEXPECTED 12
    UNEXPECTED 13
    UNEXPECTED 14
    UNEXPECTED 15

probe_restore:
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldr     x30, [sp, #160]
    add     sp, sp, #192
    eret

    .section .bss.stack, "aw", %nobits
    .balign 16
    .space  0x10000
probe_stack_top:

/* probe_step_over: ELR_EL1 += 4 (step over the aborting load/store). */
    .section .text, "ax"
    .global probe_step_over
probe_step_over:
    mrs     x9, elr_el1
    add     x9, x9, #4
    msr     elr_el1, x9
    ret

/*
 * hostile_exec(regs): the hostile mode's one-instruction executor. Loads x0–x7 from regs[0..7],
 * calls hostile_slot (the instruction under test, then RET), stores x0–x7 back. A fault in the
 * slot is stepped over by the synchronous handler (ELR_EL1 += 4 lands on the RET), and the
 * handler restores x0–x18, so the values stored back are what the instruction (or the
 * hypervisor, for HVC/SMC) left.
 */
    .section .text, "ax"
    .global hostile_exec
hostile_exec:
    stp     x29, x30, [sp, #-32]!
    str     x19, [sp, #16]
    mov     x19, x0
    ldp     x0, x1, [x19, #0]
    ldp     x2, x3, [x19, #16]
    ldp     x4, x5, [x19, #32]
    ldp     x6, x7, [x19, #48]
    bl      hostile_slot
    stp     x0, x1, [x19, #0]
    stp     x2, x3, [x19, #16]
    stp     x4, x5, [x19, #32]
    stp     x6, x7, [x19, #48]
    ldr     x19, [sp, #16]
    ldp     x29, x30, [sp], #32
    ret

/* hostile_set_instruction(w0): writes the slot's instruction and makes it visible to fetch. */
    .global hostile_set_instruction
hostile_set_instruction:
    adrp    x9, hostile_slot
    add     x9, x9, :lo12:hostile_slot
    str     w0, [x9]
    dc      cvau, x9
    dsb     ish
    ic      ivau, x9
    dsb     ish
    isb
    ret

/* The slot has a 4 KiB page of its own: rewriting it must not invalidate QEMU's translations
 * of the probe's other code. */
    .section .data.hostile_slot, "aw"
    .balign 4096
    .global hostile_slot
hostile_slot:
    nop
    ret
    .balign 4096
