/*
 * libc.c — the few C library functions an Embedded Swift image links against:
 * memset/memcpy/memmove/memcmp and posix_memalign/free backed by a small allocator.
 *
 * Allocator: size classes of 16 B .. 4 KiB (powers of two) with one free list each;
 * every block carries a 16-byte header naming its class. Larger requests (and
 * alignments above 16) come from a bump pointer and are never returned: the
 * hypervisor allocates those only at boot. Single-threaded by design (callers on
 * secondary CPUs must not allocate until a lock is added for SMP, issue 6).
 * Built with -ffreestanding -fno-builtin so these loops are not turned back into calls.
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
    /* Words while both pointers are 8-byte aligned (Swift copies structs of any size with this,
       e.g. 1268 bytes: byte by byte that was 6k instructions), then the tail bytes. */
    if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
        uint64_t *d8 = (uint64_t *)d;
        const uint64_t *s8 = (const uint64_t *)s;
        size_t words = count / 8;
        for (size_t i = 0; i < words; i++) d8[i] = s8[i];
        d += words * 8;
        s += words * 8;
        count -= words * 8;
    }
    while (count--) *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t count) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d == s || count == 0) return dst;
    if (d < s) {
        while (count--) *d++ = *s++;
    } else {
        d += count;
        s += count;
        while (count--) *--d = *--s;
    }
    return dst;
}

int memcmp(const void *a, const void *b, size_t count) {
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < count; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char *s) {
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

extern char __heap_start[], __heap_end[];

#define HEADER_SIZE 16
#define CLASS_COUNT 9          /* 16, 32, ..., 4096 */
#define CLASS_BUMP_ONLY 0xff

typedef struct FreeBlock { struct FreeBlock *next; } FreeBlock;

static FreeBlock *free_lists[CLASS_COUNT];
static uintptr_t heap_next;
static uint64_t heap_failures;

static void *bump(size_t size, size_t alignment) {
    if (heap_next == 0) heap_next = (uintptr_t)__heap_start;
    uintptr_t start = (heap_next + alignment - 1) & ~(uintptr_t)(alignment - 1);
    if (start + size > (uintptr_t)__heap_end || start + size < start) {
        heap_failures++;
        return NULL;
    }
    heap_next = start + size;
    return (void *)start;
}

static int size_class(size_t size) {
    size_t capacity = 16;
    for (int c = 0; c < CLASS_COUNT; c++, capacity <<= 1)
        if (size <= capacity) return c;
    return -1;
}

int posix_memalign(void **result, size_t alignment, size_t size) {
    if (alignment < 16) alignment = 16;
    int cls = alignment <= 16 ? size_class(size) : -1;
    if (cls < 0) {
        /* Header still present (class = bump-only) so free() can recognise the block. */
        size_t headerRoom = alignment > HEADER_SIZE ? alignment : HEADER_SIZE;
        unsigned char *raw = bump(size + headerRoom, alignment);
        if (!raw) return 12; /* ENOMEM */
        unsigned char *block = raw + headerRoom;
        *(uint64_t *)(block - HEADER_SIZE) = CLASS_BUMP_ONLY;
        *result = block;
        return 0;
    }
    FreeBlock *block = free_lists[cls];
    if (block) {
        free_lists[cls] = block->next;
        *result = block;
        return 0;
    }
    unsigned char *raw = bump(HEADER_SIZE + ((size_t)16 << cls), 16);
    if (!raw) return 12;
    *(uint64_t *)raw = (uint64_t)cls;
    *result = raw + HEADER_SIZE;
    return 0;
}

void *malloc(size_t size) {
    void *p = NULL;
    return posix_memalign(&p, 16, size) == 0 ? p : NULL;
}

void free(void *pointer) {
    if (!pointer) return;
    uint64_t cls = *(uint64_t *)((unsigned char *)pointer - HEADER_SIZE);
    if (cls >= CLASS_COUNT) return; /* bump-only: boot-time allocation, kept */
    FreeBlock *block = pointer;
    block->next = free_lists[cls];
    free_lists[cls] = block;
}

/// Bytes handed out by the bump pointer so far (for the boot banner).
uint64_t hal_heap_used(void) {
    return heap_next ? heap_next - (uintptr_t)__heap_start : 0;
}
