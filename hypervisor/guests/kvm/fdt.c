/*
 * fdt.c — a minimal flattened-device-tree writer for the L2 Linux guest's DTB (the Devicetree
 * Specification v0.4, chapter 5 "Flattened Devicetree (DTB) Format"): one pass that appends the
 * structure block and the strings block to fixed-size buffers, then lays out header, memory
 * reservation map (empty), structure and strings. Big-endian throughout, as the format says.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmm.h"

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_END 9u

static void put32(uint8_t *at, uint32_t value) {
    at[0] = value >> 24; at[1] = value >> 16; at[2] = value >> 8; at[3] = value;
}

static void fdt_ensure(struct fdt *fdt, size_t more) {
    if (fdt->structure_length + more + 8 > sizeof fdt->structure) {
        fprintf(stderr, "vmm: fdt: structure block exceeds %zu bytes\n", sizeof fdt->structure);
        exit(2);
    }
}

static void fdt_u32(struct fdt *fdt, uint32_t value) {
    fdt_ensure(fdt, 4);
    put32(fdt->structure + fdt->structure_length, value);
    fdt->structure_length += 4;
}

static void fdt_bytes(struct fdt *fdt, const void *bytes, size_t length) {
    fdt_ensure(fdt, length + 3);
    memcpy(fdt->structure + fdt->structure_length, bytes, length);
    fdt->structure_length += length;
    while (fdt->structure_length % 4) fdt->structure[fdt->structure_length++] = 0;
}

/* Offset of `name` in the strings block, adding it the first time. */
static uint32_t fdt_string(struct fdt *fdt, const char *name) {
    size_t length = strlen(name) + 1;
    for (size_t at = 0; at < fdt->strings_length; at += strlen(fdt->strings + at) + 1)
        if (strcmp(fdt->strings + at, name) == 0) return (uint32_t)at;
    if (fdt->strings_length + length > sizeof fdt->strings) {
        fprintf(stderr, "vmm: fdt: strings block exceeds %zu bytes\n", sizeof fdt->strings);
        exit(2);
    }
    memcpy(fdt->strings + fdt->strings_length, name, length);
    fdt->strings_length += length;
    return (uint32_t)(fdt->strings_length - length);
}

void fdt_begin_node(struct fdt *fdt, const char *name) {
    fdt_u32(fdt, FDT_BEGIN_NODE);
    fdt_bytes(fdt, name, strlen(name) + 1);
}

void fdt_end_node(struct fdt *fdt) { fdt_u32(fdt, FDT_END_NODE); }

void fdt_property(struct fdt *fdt, const char *name, const void *value, size_t length) {
    fdt_u32(fdt, FDT_PROP);
    fdt_u32(fdt, (uint32_t)length);
    fdt_u32(fdt, fdt_string(fdt, name));
    fdt_bytes(fdt, value, length);
}

void fdt_property_string(struct fdt *fdt, const char *name, const char *value) {
    fdt_property(fdt, name, value, strlen(value) + 1);
}

/* A property of `count` 32-bit cells. */
void fdt_property_cells(struct fdt *fdt, const char *name, const uint32_t *cells, size_t count) {
    uint8_t bytes[4 * 32];
    if (count > 32) { fprintf(stderr, "vmm: fdt: property %s has too many cells\n", name); exit(2); }
    for (size_t i = 0; i < count; i++) put32(bytes + 4 * i, cells[i]);
    fdt_property(fdt, name, bytes, 4 * count);
}

void fdt_property_u32(struct fdt *fdt, const char *name, uint32_t value) {
    fdt_property_cells(fdt, name, &value, 1);
}

void fdt_property_empty(struct fdt *fdt, const char *name) { fdt_property(fdt, name, NULL, 0); }

/* Writes header + empty reservation map + structure + strings to `out` (at most `capacity`). */
size_t fdt_finish(struct fdt *fdt, uint8_t *out, size_t capacity) {
    fdt_u32(fdt, FDT_END);
    const uint32_t header = 40, reservations = 16;
    uint32_t structure_at = header + reservations;
    uint32_t strings_at = structure_at + (uint32_t)fdt->structure_length;
    uint32_t total = strings_at + (uint32_t)fdt->strings_length;
    if (total > capacity) { fprintf(stderr, "vmm: fdt: DTB of %u bytes does not fit\n", total); exit(2); }
    memset(out, 0, structure_at);
    put32(out + 0, FDT_MAGIC);
    put32(out + 4, total);
    put32(out + 8, structure_at);            /* off_dt_struct */
    put32(out + 12, strings_at);             /* off_dt_strings */
    put32(out + 16, header);                 /* off_mem_rsvmap */
    put32(out + 20, 17);                     /* version */
    put32(out + 24, 16);                     /* last_comp_version */
    put32(out + 28, 0);                      /* boot_cpuid_phys */
    put32(out + 32, (uint32_t)fdt->strings_length);
    put32(out + 36, (uint32_t)fdt->structure_length);
    memcpy(out + structure_at, fdt->structure, fdt->structure_length);
    memcpy(out + strings_at, fdt->strings, fdt->strings_length);
    return total;
}
