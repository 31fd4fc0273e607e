/*
 * support.c — the C library pieces the probe's Embedded Swift links against (it allocates
 * nothing at run time; a small bump heap covers the runtime's needs).
 */
#include <stddef.h>
#include <stdint.h>

void *memset(void *dst, int value, size_t count) {
    unsigned char *d = dst;
    while (count--) *d++ = (unsigned char)value;
    return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t count) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (count--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t count) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) { while (count--) *d++ = *s++; }
    else { d += count; s += count; while (count--) *--d = *--s; }
    return dst;
}

static unsigned char heap[64 * 1024] __attribute__((aligned(16)));
static size_t heap_used;

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment < 16) alignment = 16;
    size_t start = (heap_used + alignment - 1) & ~(alignment - 1);
    if (start + size > sizeof heap) return 12;
    heap_used = start + size;
    *result = heap + start;
    return 0;
}

void free(void *pointer) { (void)pointer; }
