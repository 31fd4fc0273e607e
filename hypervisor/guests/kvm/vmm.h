/*
 * vmm.h — hvtrace's small KVM VMM (runs at L1, inside Debian's arm64 kernel booted at EL2 on QEMU):
 * the declarations its files share.
 */
#ifndef HVTRACE_VMM_H
#define HVTRACE_VMM_H
#include <stddef.h>
#include <stdint.h>

/* The guest's physical map: the same IPAs our hypervisor gives its VMs (app/VMConfigs.swift),
 * which are QEMU virt's addresses. */
#define GUEST_RAM_IPA        0x40000000ull
#define GUEST_GICD_IPA       0x08000000ull
#define GUEST_GICC_IPA       0x08010000ull /* GICv2 CPU interface (KVM maps the GICV frame here) */
#define GUEST_GICR_IPA       0x080A0000ull /* GICv3 redistributors (QEMU virt's VIRT_GIC_REDIST) */
#define GUEST_UART_IPA       0x09000000ull
#define GUEST_UART_SPI       1u            /* INTID 33 */
#define GUEST_TEST_DEVICE_IPA 0x0B000000ull /* the probe's test device (protocol.txt testDeviceIPA) */
#define GUEST_SMALL_IMAGE_IPA 0x40080000ull /* probe / NimbOS image */
#define GUEST_LINUX_IMAGE_IPA 0x40200000ull
#define GUEST_LINUX_INITRD_IPA 0x48000000ull
#define GUEST_LINUX_DTB_IPA  0x4FE00000ull

/* ---- fdt.c ---- */
struct fdt {
    uint8_t structure[16384];
    size_t structure_length;
    char strings[2048];
    size_t strings_length;
};
void fdt_begin_node(struct fdt *fdt, const char *name);
void fdt_end_node(struct fdt *fdt);
void fdt_property(struct fdt *fdt, const char *name, const void *value, size_t length);
void fdt_property_string(struct fdt *fdt, const char *name, const char *value);
void fdt_property_cells(struct fdt *fdt, const char *name, const uint32_t *cells, size_t count);
void fdt_property_u32(struct fdt *fdt, const char *name, uint32_t value);
void fdt_property_empty(struct fdt *fdt, const char *name);
size_t fdt_finish(struct fdt *fdt, uint8_t *out, size_t capacity);

/* ---- devices.c: the devices this VMM emulates in userspace ---- */
/* Result of an emulated access: handled, or no register there (the guest gets an abort). */
enum device_result { DEVICE_OK, DEVICE_UNSUPPORTED };

/* Called by the PL011 when its interrupt output changes level. */
typedef void (*irq_line_fn)(unsigned spi, int level);
void pl011_init(irq_line_fn raise, const char *marker);
enum device_result pl011_access(uint64_t offset, int is_write, unsigned size, uint64_t *value);
void pl011_flush(void);
/* Counter value (CNTVCT_EL0 at L1) when the console first printed a line containing the marker;
 * 0 until then. */
uint64_t pl011_marker_counter(void);

enum device_result test_device_access(uint64_t offset, int is_write, unsigned size, uint64_t *value);

/* CNTVCT_EL0 of L1 (the host's view of the counter). */
static inline uint64_t host_counter(void) {
    uint64_t value;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(value));
    return value;
}

#endif
