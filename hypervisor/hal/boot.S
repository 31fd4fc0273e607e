/*
 * boot.S — EL2 entry of the hypervisor (the part axhal's aarch64_common boot plays).
 *
 * QEMU (-M virt,virtualization=on, -kernel hv.elf) starts CPU 0 here at EL2 with the
 * MMU off; the other CPUs stay powered off until PSCI CPU_ON sends them to
 * hal_secondary_entry. Steps: check EL2, set the stack, clear BSS, turn on the EL2
 * stage-1 MMU with the static identity map below (caches on from the first line of
 * Swift), point TPIDR_EL2 at this CPU's PerCPU, install VBAR_EL2, call hv_main.
 */
#include "include/hal.h"

/* MAIR_EL2 (Arm ARM D17.2.97): Attr0 = Device-nGnRnE (0x00), Attr1 = Normal WB RW-allocate (0xff). */
#define MAIR_VALUE      0xff00
/* TCR_EL2 (D17.2.131, non-VHE): T0SZ=25 (39-bit VA, walk starts at level 1), IRGN0/ORGN0 = WB-WA,
   SH0 = inner shareable, TG0 = 4 KiB, PS = 40 bits (2), RES1 bits 31 and 23. */
#define TCR_VALUE       ((1 << 31) | (1 << 23) | (2 << 16) | (3 << 12) | (1 << 10) | (1 << 8) | 25)
/* SCTLR_EL2 (D17.2.118): RES1 bits | M (MMU) | C (data cache) | I (instruction cache). */
#define SCTLR_VALUE     (0x30c50830 | (1 << 0) | (1 << 2) | (1 << 12))

    .section .text.boot, "ax"
    .global _start
_start:
    mrs     x22, cntpct_el0             // boot timestamp: the hypervisor's first instruction
    mrs     x9, CurrentEL
    cmp     x9, #(2 << 2)               // must be EL2
    b.ne    park
    mrs     x9, mpidr_el1
    and     x9, x9, #0xff               // Aff0: only CPU 0 boots here
    cbnz    x9, park
    mov     x19, x0                     // x0 may hold the DTB address (0 for an ELF boot)

    adrp    x9, hal_stacks
    add     x9, x9, :lo12:hal_stacks
    add     x9, x9, #HAL_STACK_SIZE     // CPU 0's stack top
    mov     sp, x9
    mov     x20, x9

    adrp    x9, __bss_start             // clear BSS (the stacks live there too; nothing pushed yet)
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
1:  cmp     x9, x10
    b.hs    2f
    stp     xzr, xzr, [x9], #16
    b       1b
2:
    bl      enable_el2_mmu
    mov     x0, #0
    mov     x1, x20
    bl      set_per_cpu
    mov     x0, x19
    mov     x1, x22
    bl      hv_main                     // hv_main(dtb, boot timestamp), never returns
    b       park

/* hal_secondary_entry(x0 = CPU index): PSCI CPU_ON target for secondary physical CPUs. */
    .global hal_secondary_entry
hal_secondary_entry:
    mov     x19, x0
    adrp    x9, hal_stacks
    add     x9, x9, :lo12:hal_stacks
    add     x10, x19, #1
    mov     x11, #HAL_STACK_SIZE
    madd    x9, x10, x11, x9            // stack top = hal_stacks + (index + 1) * size
    mov     sp, x9
    mov     x20, x9
    bl      enable_el2_mmu
    mov     x0, x19
    mov     x1, x20
    bl      set_per_cpu
    mov     x0, x19
    bl      hv_secondary_main
    b       park

/* set_per_cpu(x0 = index, x1 = stack top): TPIDR_EL2 = &hal_per_cpu[index], VBAR_EL2 = hal_vector_table. */
set_per_cpu:
    adrp    x9, hal_per_cpu
    add     x9, x9, :lo12:hal_per_cpu
    add     x9, x9, x0, lsl #5          // PER_CPU_SIZE == 32
    str     x0, [x9, #PER_CPU_CPU_ID]
    str     x1, [x9, #PER_CPU_STACK_TOP]
    msr     tpidr_el2, x9
    adrp    x9, hal_vector_table
    ldr     x9, [x9, :lo12:hal_vector_table]
    msr     vbar_el2, x9
    isb
    ret

/* enable_el2_mmu: identity map from boot_page_table, caches on. */
enable_el2_mmu:
    ldr     x9, =MAIR_VALUE
    msr     mair_el2, x9
    ldr     x9, =TCR_VALUE
    msr     tcr_el2, x9
    adrp    x9, boot_page_table
    add     x9, x9, :lo12:boot_page_table
    msr     ttbr0_el2, x9
    isb
    tlbi    alle2
    dsb     sy
    isb
    ldr     x9, =SCTLR_VALUE
    msr     sctlr_el2, x9
    isb
    ret

park:
    wfe
    b       park

/*
 * The EL2 stage-1 identity map: one level-1 table of 1 GiB blocks (VMSAv8-64 block descriptor,
 * Arm ARM D8.3): [0, 1 GiB) device memory, execute-never (GIC, PL011, all MMIO);
 * [1 GiB, 2 GiB) normal write-back inner-shareable memory (all of QEMU's RAM).
 */
#define BLOCK           0x1
#define AF              (1 << 10)
#define SH_INNER        (3 << 8)
#define ATTR_DEVICE     (0 << 2)
#define ATTR_NORMAL     (1 << 2)
#define XN              (1 << 54)
    .section .data.page_table, "aw"
    .balign 4096
boot_page_table:
    .quad   0x00000000 | BLOCK | AF | ATTR_DEVICE | XN
    .quad   0x40000000 | BLOCK | AF | ATTR_NORMAL | SH_INNER
    .fill   510, 8, 0

    .section .bss.stacks, "aw", %nobits
    .balign 16
    .global hal_stacks
hal_stacks:
    .space  HAL_STACK_SIZE * HAL_MAX_CPUS

    .section .bss.per_cpu, "aw", %nobits
    .balign 64
    .global hal_per_cpu
hal_per_cpu:
    .space  PER_CPU_SIZE * HAL_MAX_CPUS
