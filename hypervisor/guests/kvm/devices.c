/*
 * devices.c — the devices the VMM emulates in userspace, each MMIO access one KVM_EXIT_MMIO:
 *
 *   PL011 UART at 0x0900_0000 (SPI 1 = INTID 33), the guest's console. Registers and interrupt
 *   behaviour as QEMU's hw/char/pl011.c models them (the PrimeCell UART TRM, ARM DDI 0183, 3.2
 *   "Summary of registers"): transmit is immediate (the FIFO is always empty, TXRIS rises on every
 *   DR write), there is no input. Output goes to our stdout a line at a time.
 *
 *   The probe's test device at 0x0B00_0000: the same register file as the hypervisor's
 *   ProbeTestDevice (hypervisor/core/Devices.swift): 0x00 ID 'HVTR' (RO), 0x08 SCRATCH (RW, any
 *   width within its 8 bytes), 0x10 READS, 0x18 WRITES (RO), 0x20 NEGATIVE 0x8080…80 (RO).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vmm.h"

/* ---- PL011 ---- */

#define UART_DR 0x000
#define UART_RSR 0x004
#define UART_FR 0x018
#define UART_ILPR 0x020
#define UART_IBRD 0x024
#define UART_FBRD 0x028
#define UART_LCR_H 0x02C
#define UART_CR 0x030
#define UART_IFLS 0x034
#define UART_IMSC 0x038
#define UART_RIS 0x03C
#define UART_MIS 0x040
#define UART_ICR 0x044
#define UART_DMACR 0x048
#define UART_FR_RXFE (1u << 4)
#define UART_FR_TXFE (1u << 7)
#define UART_INT_TX (1u << 5)

static struct {
    pthread_mutex_t lock;
    irq_line_fn raise;
    int line_level;
    uint32_t int_level, int_enabled;
    uint32_t ilpr, ibrd, fbrd, lcr_h, cr, ifls, dmacr;
    char line[512];
    size_t line_length;
    const char *marker;
    uint64_t marker_counter;
} uart = { .lock = PTHREAD_MUTEX_INITIALIZER, .cr = 0x300, .ifls = 0x12 };

/* PrimeCell identification (PeriphID0-3, CellID0-3 at 0xFE0-0xFFC): a PL011 r1p5, as QEMU's. */
static const uint8_t uart_id[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };

void pl011_init(irq_line_fn raise, const char *marker) {
    uart.raise = raise;
    uart.marker = marker;
}

static void uart_update_irq(void) {
    int level = (uart.int_level & uart.int_enabled) != 0;
    if (level != uart.line_level) {
        uart.line_level = level;
        uart.raise(GUEST_UART_SPI, level);
    }
}

static void uart_emit_line(void) {
    if (uart.line_length == 0) return;
    if (uart.marker && !uart.marker_counter) {
        uart.line[uart.line_length] = 0;
        if (strstr(uart.line, uart.marker)) uart.marker_counter = host_counter();
    }
    size_t done = 0;
    while (done < uart.line_length) {
        ssize_t n = write(1, uart.line + done, uart.line_length - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    uart.line_length = 0;
}

static void uart_output(char c) {
    if (c == '\r') return;  /* the L1 console adds its own */
    uart.line[uart.line_length++] = c;
    if (c == '\n' || uart.line_length == sizeof uart.line - 1) uart_emit_line();
}

void pl011_flush(void) {
    pthread_mutex_lock(&uart.lock);
    uart_emit_line();
    pthread_mutex_unlock(&uart.lock);
}

uint64_t pl011_marker_counter(void) { return uart.marker_counter; }

enum device_result pl011_access(uint64_t offset, int is_write, unsigned size, uint64_t *value) {
    (void)size;
    enum device_result result = DEVICE_OK;
    pthread_mutex_lock(&uart.lock);
    if (is_write) {
        uint32_t v = (uint32_t)*value;
        switch (offset) {
        case UART_DR: uart_output((char)v); uart.int_level |= UART_INT_TX; break;
        case UART_RSR: break;  /* error clear */
        case UART_ILPR: uart.ilpr = v; break;
        case UART_IBRD: uart.ibrd = v; break;
        case UART_FBRD: uart.fbrd = v; break;
        case UART_LCR_H: uart.lcr_h = v; break;
        case UART_CR: uart.cr = v; break;
        case UART_IFLS: uart.ifls = v; break;
        case UART_IMSC: uart.int_enabled = v; break;
        case UART_ICR: uart.int_level &= ~v; break;
        case UART_DMACR: uart.dmacr = v; break;
        default: result = DEVICE_UNSUPPORTED;
        }
        uart_update_irq();
    } else {
        switch (offset) {
        case UART_DR: *value = 0; break;  /* no input */
        case UART_RSR: *value = 0; break;
        case UART_FR: *value = UART_FR_TXFE | UART_FR_RXFE; break;
        case UART_ILPR: *value = uart.ilpr; break;
        case UART_IBRD: *value = uart.ibrd; break;
        case UART_FBRD: *value = uart.fbrd; break;
        case UART_LCR_H: *value = uart.lcr_h; break;
        case UART_CR: *value = uart.cr; break;
        case UART_IFLS: *value = uart.ifls; break;
        case UART_IMSC: *value = uart.int_enabled; break;
        case UART_RIS: *value = uart.int_level; break;
        case UART_MIS: *value = uart.int_level & uart.int_enabled; break;
        case UART_DMACR: *value = uart.dmacr; break;
        default:
            if (offset >= 0xFE0 && offset < 0x1000) *value = uart_id[(offset - 0xFE0) >> 2];
            else result = DEVICE_UNSUPPORTED;
        }
    }
    pthread_mutex_unlock(&uart.lock);
    return result;
}

/* ---- the probe's test device ---- */

static struct {
    pthread_mutex_t lock;
    uint64_t scratch, reads, writes;
} test_device = { .lock = PTHREAD_MUTEX_INITIALIZER };

enum device_result test_device_access(uint64_t offset, int is_write, unsigned size, uint64_t *value) {
    uint64_t lane = (offset & 7) * 8;
    if ((offset & 7) + size > 8) return DEVICE_UNSUPPORTED;
    enum device_result result = DEVICE_OK;
    pthread_mutex_lock(&test_device.lock);
    if (is_write) {
        if ((offset & ~7ull) != 0x08) {
            result = DEVICE_UNSUPPORTED;
        } else {
            uint64_t mask = (size >= 8 ? ~0ull : (1ull << (size * 8)) - 1) << lane;
            test_device.scratch = (test_device.scratch & ~mask) | ((*value << lane) & mask);
            test_device.writes++;
        }
    } else {
        uint64_t full;
        switch (offset & ~7ull) {
        case 0x00: full = 0x48565452; break;
        case 0x08: full = test_device.scratch; break;
        case 0x10: full = test_device.reads; break;
        case 0x18: full = test_device.writes; break;
        case 0x20: full = 0x8080808080808080ull; break;
        default: result = DEVICE_UNSUPPORTED; full = 0;
        }
        if (result == DEVICE_OK) {
            test_device.reads++;
            *value = full >> lane;
        }
    }
    pthread_mutex_unlock(&test_device.lock);
    return result;
}
