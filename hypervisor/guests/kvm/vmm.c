/*
 * vmm.c — hvtrace-vmm: the small KVM VMM of hvtrace's KVM reference machine. It runs at L1 (Debian's
 * arm64 kernel at EL2 on QEMU, KVM built in) and runs our guests at L2 with the machine our own
 * hypervisor gives them (app/VMConfigs.swift): RAM at IPA 0x4000_0000, the image at 0x4008_0000 (probe)
 * or 0x4020_0000 (Linux, DTB at 0x4FE0_0000, initramfs at 0x4800_0000), GICv2 distributor at
 * 0x0800_0000 and CPU interface at 0x0801_0000 (or GICv3, redistributors at 0x080A_0000), the PL011 at
 * 0x0900_0000, the probe's test device at 0x0B00_0000.
 *
 * What runs where (the point of the comparison): KVM (in the kernel) handles HVC/SMC (PSCI, SMCCC),
 * WFI, the timers, sysreg traps and, with --gic v2|v3, the whole interrupt controller; this program (in
 * userspace) emulates the PL011 and the test device, one KVM_EXIT_MMIO per access.
 *
 * Usage:
 *   hvtrace-vmm --probe IMAGE --x1 VALUE [--x0 VALUE] [--memory MIB] [--gic v2|v3|none]
 *   hvtrace-vmm --linux IMAGE --initrd FILE [--append WORDS] [--cpus N] [--memory MIB] [--gic v2|v3]
 *   common: [--marker TEXT] (print the counter when the console first shows TEXT) [--no-pin]
 * Exit status: 0 when the guest powered off (PSCI SYSTEM_OFF), 3 on SYSTEM_RESET, 1 on errors,
 * 2 on usage errors.
 *
 * KVM API: Documentation/virt/kvm/api.rst (KVM_ARM_VCPU_INIT 4.82, KVM_IRQ_LINE 4.25,
 * KVM_SET_ONE_REG 4.68), devices/arm-vgic.rst and arm-vgic-v3.rst.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm.h"

#define MAX_VCPUS 8

static struct options {
    const char *probe_image;
    const char *linux_image;
    const char *initrd;
    const char *append;
    const char *marker;
    uint64_t x0, x1;
    int cpus;
    uint64_t memory_mib;
    int gic; /* 0 none, 2, 3 */
    int pin;
} options = { .cpus = 0, .gic = 2, .pin = 1 };

static int vm_fd;
static uint8_t *guest_ram;
static uint64_t guest_ram_size;
static uint64_t start_counter;

/* Per-vCPU state; the counters are the exits this program saw (KVM handles the rest itself). */
static struct vcpu {
    int index, fd;
    struct kvm_run *run;
    pthread_t thread;
    uint64_t uart_exits, test_device_exits, unhandled_mmio, other_exits;
} vcpus[MAX_VCPUS];

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    fprintf(stderr, "vmm: error: ");
    vfprintf(stderr, format, arguments);
    fprintf(stderr, "\n");
    va_end(arguments);
    pl011_flush();
    exit(1);
}

__attribute__((noreturn)) static void usage(const char *message) {
    fprintf(stderr, "vmm: %s\nusage: hvtrace-vmm --probe IMAGE --x1 VALUE [--x0 VALUE] | --linux IMAGE --initrd FILE "
                    "[--append WORDS] [--cpus N]; [--memory MIB] [--gic v2|v3|none] [--marker TEXT] [--no-pin]\n", message);
    exit(2);
}

static uint64_t parse_number(const char *text, const char *option) {
    char *end;
    errno = 0;
    uint64_t value = strtoull(text, &end, 0);
    if (errno || *end || end == text) usage(option);
    return value;
}

static void parse_options(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *option = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(option, "--no-pin")) { options.pin = 0; continue; }
        if (!value) usage("option needs a value");
        i++;
        if (!strcmp(option, "--probe")) options.probe_image = value;
        else if (!strcmp(option, "--linux")) options.linux_image = value;
        else if (!strcmp(option, "--initrd")) options.initrd = value;
        else if (!strcmp(option, "--append")) options.append = value;
        else if (!strcmp(option, "--marker")) options.marker = value;
        else if (!strcmp(option, "--x0")) options.x0 = parse_number(value, "--x0 needs a number");
        else if (!strcmp(option, "--x1")) options.x1 = parse_number(value, "--x1 needs a number");
        else if (!strcmp(option, "--cpus")) options.cpus = (int)parse_number(value, "--cpus needs a number");
        else if (!strcmp(option, "--memory")) options.memory_mib = parse_number(value, "--memory needs MiB");
        else if (!strcmp(option, "--gic")) {
            if (!strcmp(value, "v2")) options.gic = 2;
            else if (!strcmp(value, "v3")) options.gic = 3;
            else if (!strcmp(value, "none")) options.gic = 0;
            else usage("--gic is v2, v3 or none");
        } else usage("unknown option");
    }
    if (!options.probe_image == !options.linux_image) usage("give exactly one of --probe and --linux");
    if (options.linux_image && !options.initrd) usage("--linux needs --initrd");
    if (options.linux_image && options.gic == 0) usage("Linux needs an interrupt controller (--gic v2 or v3)");
    if (!options.cpus) options.cpus = options.linux_image ? 2 : 1;
    if (options.cpus < 1 || options.cpus > MAX_VCPUS) usage("--cpus is 1 to 8");
    if (!options.memory_mib) options.memory_mib = options.linux_image ? 256 : 128;
}

/* ---- guest memory and images ---- */

static void load_file(const char *path, uint64_t ipa, uint64_t *size_out) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die("cannot open %s: %s", path, strerror(errno));
    struct stat status;
    if (fstat(fd, &status) < 0) die("cannot stat %s: %s", path, strerror(errno));
    uint64_t offset = ipa - GUEST_RAM_IPA;
    if ((uint64_t)status.st_size > guest_ram_size - offset)
        die("%s (%lld bytes) does not fit guest RAM at IPA 0x%llx", path, (long long)status.st_size,
            (unsigned long long)ipa);
    size_t done = 0;
    while (done < (size_t)status.st_size) {
        ssize_t n = read(fd, guest_ram + offset + done, (size_t)status.st_size - done);
        if (n <= 0) die("cannot read %s: %s", path, n < 0 ? strerror(errno) : "short read");
        done += (size_t)n;
    }
    close(fd);
    if (size_out) *size_out = (uint64_t)status.st_size;
}

/* Checks the arm64 Image header (Documentation/arm64/booting.rst: magic "ARM\x64" at 0x38,
 * text_offset at 0x08, image_size at 0x10). */
static void check_linux_image(void) {
    const uint8_t *header = guest_ram + (GUEST_LINUX_IMAGE_IPA - GUEST_RAM_IPA);
    if (memcmp(header + 0x38, "ARM\x64", 4) != 0) die("%s is not an arm64 Image (no ARM\\x64 magic at 0x38)", options.linux_image);
    uint64_t text_offset, image_size;
    memcpy(&text_offset, header + 0x08, 8);
    memcpy(&image_size, header + 0x10, 8);
    if (text_offset != 0) die("%s: text_offset 0x%llx, expected 0", options.linux_image, (unsigned long long)text_offset);
    if (GUEST_LINUX_IMAGE_IPA + image_size > GUEST_LINUX_INITRD_IPA)
        die("%s: image_size 0x%llx overlaps the initramfs at 0x%llx", options.linux_image,
            (unsigned long long)image_size, GUEST_LINUX_INITRD_IPA);
}

/* The L2 Linux guest's device tree: what our hypervisor's GuestDeviceTree builds (memory, CPUs with
 * PSCI, GIC, timer, PL011 and its clock, chosen), so both see the same machine. */
static void build_linux_dtb(uint64_t initrd_size) {
    static struct fdt fdt;
    char name[64];
    uint32_t cells[16];
    fdt_begin_node(&fdt, "");
    fdt_property_u32(&fdt, "#address-cells", 2);
    fdt_property_u32(&fdt, "#size-cells", 2);
    fdt_property_string(&fdt, "compatible", "hvtrace,guest-vm");
    fdt_property_string(&fdt, "model", "hvtrace Linux guest (KVM)");
    fdt_property_u32(&fdt, "interrupt-parent", 1);

    fdt_begin_node(&fdt, "chosen");
    char bootargs[1024];
    snprintf(bootargs, sizeof bootargs, "console=ttyAMA0 earlycon=pl011,0x09000000 rdinit=/init%s%s",
             options.append ? " " : "", options.append ? options.append : "");
    fdt_property_string(&fdt, "bootargs", bootargs);
    fdt_property_string(&fdt, "stdout-path", "/pl011@9000000");
    uint64_t initrd_end = GUEST_LINUX_INITRD_IPA + initrd_size;
    cells[0] = 0; cells[1] = (uint32_t)GUEST_LINUX_INITRD_IPA;
    fdt_property_cells(&fdt, "linux,initrd-start", cells, 2);
    cells[0] = (uint32_t)(initrd_end >> 32); cells[1] = (uint32_t)initrd_end;
    fdt_property_cells(&fdt, "linux,initrd-end", cells, 2);
    fdt_end_node(&fdt);

    fdt_begin_node(&fdt, "memory@40000000");
    fdt_property_string(&fdt, "device_type", "memory");
    cells[0] = 0; cells[1] = (uint32_t)GUEST_RAM_IPA;
    cells[2] = (uint32_t)(guest_ram_size >> 32); cells[3] = (uint32_t)guest_ram_size;
    fdt_property_cells(&fdt, "reg", cells, 4);
    fdt_end_node(&fdt);

    fdt_begin_node(&fdt, "cpus");
    fdt_property_u32(&fdt, "#address-cells", 1);
    fdt_property_u32(&fdt, "#size-cells", 0);
    for (int cpu = 0; cpu < options.cpus; cpu++) {
        snprintf(name, sizeof name, "cpu@%d", cpu);
        fdt_begin_node(&fdt, name);
        fdt_property_string(&fdt, "device_type", "cpu");
        fdt_property_string(&fdt, "compatible", "arm,armv8");
        fdt_property_string(&fdt, "enable-method", "psci");
        fdt_property_u32(&fdt, "reg", (uint32_t)cpu);
        fdt_end_node(&fdt);
    }
    fdt_end_node(&fdt);

    fdt_begin_node(&fdt, "psci");
    static const char psci_compatible[] = "arm,psci-1.0\0arm,psci-0.2";
    fdt_property(&fdt, "compatible", psci_compatible, sizeof psci_compatible);
    fdt_property_string(&fdt, "method", "hvc");
    fdt_end_node(&fdt);

    fdt_begin_node(&fdt, "intc@8000000");
    if (options.gic == 3) {
        fdt_property_string(&fdt, "compatible", "arm,gic-v3");
        uint64_t redistributors = 0x20000ull * (uint64_t)options.cpus;
        uint32_t reg[8] = { 0, (uint32_t)GUEST_GICD_IPA, 0, 0x10000, 0, (uint32_t)GUEST_GICR_IPA, 0, (uint32_t)redistributors };
        fdt_property_cells(&fdt, "reg", reg, 8);
    } else {
        fdt_property_string(&fdt, "compatible", "arm,cortex-a15-gic");
        uint32_t reg[8] = { 0, (uint32_t)GUEST_GICD_IPA, 0, 0x1000, 0, (uint32_t)GUEST_GICC_IPA, 0, 0x2000 };
        fdt_property_cells(&fdt, "reg", reg, 8);
    }
    fdt_property_u32(&fdt, "#interrupt-cells", 3);
    fdt_property_u32(&fdt, "#address-cells", 0);
    fdt_property_empty(&fdt, "interrupt-controller");
    fdt_property_u32(&fdt, "phandle", 1);
    fdt_end_node(&fdt);

    fdt_begin_node(&fdt, "timer");
    fdt_property_string(&fdt, "compatible", "arm,armv8-timer");
    fdt_property_empty(&fdt, "always-on");
    /* Secure physical, non-secure physical, virtual and hypervisor timer PPIs, level-high; GICv2
     * also gives the CPU mask (0xF << 8 would cover 4 CPUs; QEMU writes the real mask). */
    uint32_t flags = options.gic == 3 ? 0x4 : (((1u << options.cpus) - 1) << 8) | 0x4;
    uint32_t timer[12] = { 1, 13, flags, 1, 14, flags, 1, 11, flags, 1, 10, flags };
    fdt_property_cells(&fdt, "interrupts", timer, 12);
    fdt_end_node(&fdt);

    fdt_begin_node(&fdt, "apb-pclk");
    fdt_property_string(&fdt, "compatible", "fixed-clock");
    fdt_property_u32(&fdt, "#clock-cells", 0);
    fdt_property_u32(&fdt, "clock-frequency", 24000000);
    fdt_property_string(&fdt, "clock-output-names", "clk24mhz");
    fdt_property_u32(&fdt, "phandle", 2);
    fdt_end_node(&fdt);

    fdt_begin_node(&fdt, "pl011@9000000");
    static const char uart_compatible[] = "arm,pl011\0arm,primecell";
    fdt_property(&fdt, "compatible", uart_compatible, sizeof uart_compatible);
    uint32_t reg[4] = { 0, (uint32_t)GUEST_UART_IPA, 0, 0x1000 };
    fdt_property_cells(&fdt, "reg", reg, 4);
    uint32_t interrupt[3] = { 0, GUEST_UART_SPI, 4 };
    fdt_property_cells(&fdt, "interrupts", interrupt, 3);
    uint32_t clocks[2] = { 2, 2 };
    fdt_property_cells(&fdt, "clocks", clocks, 2);
    static const char clock_names[] = "uartclk\0apb_pclk";
    fdt_property(&fdt, "clock-names", clock_names, sizeof clock_names);
    fdt_end_node(&fdt);

    fdt_end_node(&fdt);
    uint64_t offset = GUEST_LINUX_DTB_IPA - GUEST_RAM_IPA;
    fdt_finish(&fdt, guest_ram + offset, guest_ram_size - offset);
}

/* ---- KVM set-up ---- */

static int kvm_ioctl(int fd, unsigned long request, void *argument, const char *what) {
    int result = ioctl(fd, request, argument);
    if (result < 0) die("%s: %s", what, strerror(errno));
    return result;
}

/* KVM_SET_ONE_REG id of a core register at byte `offset` in struct kvm_regs. */
static uint64_t core_register(size_t offset) {
    return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / sizeof(uint32_t));
}

static void set_core_register(struct vcpu *vcpu, size_t offset, uint64_t value) {
    struct kvm_one_reg reg = { .id = core_register(offset), .addr = (uint64_t)(uintptr_t)&value };
    kvm_ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg, "KVM_SET_ONE_REG");
}

static void set_device_attribute(int device, uint32_t group, uint64_t attribute, void *value, const char *what) {
    struct kvm_device_attr attr = { .group = group, .attr = attribute, .addr = (uint64_t)(uintptr_t)value };
    kvm_ioctl(device, KVM_SET_DEVICE_ATTR, &attr, what);
}

/* The in-kernel interrupt controller (vGICv2 or vGICv3) at the addresses in vmm.h. */
static void create_interrupt_controller(void) {
    struct kvm_create_device create = { .type = options.gic == 3 ? KVM_DEV_TYPE_ARM_VGIC_V3 : KVM_DEV_TYPE_ARM_VGIC_V2 };
    kvm_ioctl(vm_fd, KVM_CREATE_DEVICE, &create, options.gic == 3 ? "KVM_CREATE_DEVICE vgic-v3" : "KVM_CREATE_DEVICE vgic-v2");
    uint64_t address = GUEST_GICD_IPA;
    if (options.gic == 3) {
        set_device_attribute(create.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &address, "vgic-v3 distributor address");
        address = GUEST_GICR_IPA;
        set_device_attribute(create.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST, &address, "vgic-v3 redistributor address");
    } else {
        set_device_attribute(create.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_DIST, &address, "vgic-v2 distributor address");
        address = GUEST_GICC_IPA;
        set_device_attribute(create.fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V2_ADDR_TYPE_CPU, &address, "vgic-v2 CPU interface address");
    }
    uint32_t interrupts = 64;  /* 32 private + 32 SPIs, like our hypervisor's distributor model */
    set_device_attribute(create.fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &interrupts, "vgic number of interrupts");
    set_device_attribute(create.fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "vgic init");
}

static void raise_spi(unsigned spi, int level) {
    if (!options.gic) return;
    struct kvm_irq_level line = { .irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (spi + 32), .level = (uint32_t)level };
    kvm_ioctl(vm_fd, KVM_IRQ_LINE, &line, "KVM_IRQ_LINE");
}

static void create_vcpu(int index) {
    struct vcpu *vcpu = &vcpus[index];
    vcpu->index = index;
    vcpu->fd = kvm_ioctl(vm_fd, KVM_CREATE_VCPU, (void *)(uintptr_t)index, "KVM_CREATE_VCPU");
    struct kvm_vcpu_init init;
    kvm_ioctl(vm_fd, KVM_ARM_PREFERRED_TARGET, &init, "KVM_ARM_PREFERRED_TARGET");
    /* PSCI 0.2+ handled by KVM; every vCPU but the first starts off and waits for CPU_ON. */
    init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2;
    if (index > 0) init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
    kvm_ioctl(vcpu->fd, KVM_ARM_VCPU_INIT, &init, "KVM_ARM_VCPU_INIT");
}

static void map_vcpu_run(struct vcpu *vcpu, int mmap_size) {
    vcpu->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
    if (vcpu->run == MAP_FAILED) die("mmap of the vCPU run structure: %s", strerror(errno));
}

/* ---- running ---- */

static void print_summary(const char *how) {
    pl011_flush();
    uint64_t now = host_counter();
    uint64_t uart = 0, test = 0, unhandled = 0, other = 0;
    for (int i = 0; i < options.cpus; i++) {
        uart += vcpus[i].uart_exits; test += vcpus[i].test_device_exits;
        unhandled += vcpus[i].unhandled_mmio; other += vcpus[i].other_exits;
    }
    printf("vmm: %s after %llu counter ticks; exits to this VMM: uart %llu, test-device %llu, unhandled-mmio %llu, other %llu\n",
           how, (unsigned long long)(now - start_counter), (unsigned long long)uart, (unsigned long long)test,
           (unsigned long long)unhandled, (unsigned long long)other);
    if (options.marker) {
        uint64_t marker = pl011_marker_counter();
        if (marker) printf("vmm: marker \"%s\" after %llu counter ticks\n", options.marker, (unsigned long long)(marker - start_counter));
        else printf("vmm: marker \"%s\" never seen\n", options.marker);
    }
    fflush(stdout);
}

static void handle_mmio(struct vcpu *vcpu) {
    struct kvm_run *run = vcpu->run;
    uint64_t address = run->mmio.phys_addr, value = 0;
    unsigned size = run->mmio.len;
    if (run->mmio.is_write) memcpy(&value, run->mmio.data, size);
    enum device_result result = DEVICE_UNSUPPORTED;
    if (address >= GUEST_UART_IPA && address < GUEST_UART_IPA + 0x1000) {
        vcpu->uart_exits++;
        result = pl011_access(address - GUEST_UART_IPA, run->mmio.is_write, size, &value);
    } else if (address >= GUEST_TEST_DEVICE_IPA && address < GUEST_TEST_DEVICE_IPA + 0x1000) {
        vcpu->test_device_exits++;
        result = test_device_access(address - GUEST_TEST_DEVICE_IPA, run->mmio.is_write, size, &value);
    }
    if (result == DEVICE_UNSUPPORTED) {
        /* Read-as-zero, writes ignored (QEMU's behaviour for unassigned addresses under KVM): an
         * injected external abort cannot follow an MMIO exit (KVM would skip the instruction). */
        if (vcpu->unhandled_mmio++ < 8)
            fprintf(stderr, "vmm: vcpu %d: %s of %u bytes at IPA 0x%llx: no device register there (read as zero)\n",
                    vcpu->index, run->mmio.is_write ? "write" : "read", size, (unsigned long long)address);
        value = 0;
    }
    if (!run->mmio.is_write) memcpy(run->mmio.data, &value, size);
}

static void *vcpu_thread(void *argument) {
    struct vcpu *vcpu = argument;
    char name[16];
    /* Named like QEMU's vCPU threads, so ftrace's comm column says which vCPU an event belongs to
     * (hvtrace import reads it). */
    snprintf(name, sizeof name, "CPU %d/KVM", vcpu->index);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    if (options.pin) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET((int)(vcpu->index % (online > 0 ? online : 1)), &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0)
            fprintf(stderr, "vmm: vcpu %d: cannot pin: %s\n", vcpu->index, strerror(errno));
    }
    for (;;) {
        if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            die("vcpu %d: KVM_RUN: %s", vcpu->index, strerror(errno));
        }
        struct kvm_run *run = vcpu->run;
        switch (run->exit_reason) {
        case KVM_EXIT_MMIO:
            handle_mmio(vcpu);
            break;
        case KVM_EXIT_SYSTEM_EVENT:
            if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
                print_summary("guest powered off");
                _exit(0);
            }
            if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
                print_summary("guest asked for a reset");
                _exit(3);
            }
            print_summary("guest system event");
            fprintf(stderr, "vmm: vcpu %d: system event %u\n", vcpu->index, run->system_event.type);
            _exit(1);
        case KVM_EXIT_INTR:
            vcpu->other_exits++;
            break;
        case KVM_EXIT_FAIL_ENTRY:
            die("vcpu %d: KVM_EXIT_FAIL_ENTRY (hardware reason 0x%llx)", vcpu->index,
                (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        case KVM_EXIT_INTERNAL_ERROR:
            die("vcpu %d: KVM_EXIT_INTERNAL_ERROR (suberror %u)", vcpu->index, run->internal.suberror);
        default:
            die("vcpu %d: unexpected exit reason %u", vcpu->index, run->exit_reason);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    parse_options(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("cannot open /dev/kvm: %s (is this kernel at EL2 with KVM?)", strerror(errno));
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die("KVM API version is not %d", KVM_API_VERSION);
    vm_fd = kvm_ioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");
    int mmap_size = kvm_ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL, "KVM_GET_VCPU_MMAP_SIZE");

    guest_ram_size = options.memory_mib << 20;
    guest_ram = mmap(NULL, guest_ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (guest_ram == MAP_FAILED) die("cannot map %llu MiB of guest RAM: %s", (unsigned long long)options.memory_mib, strerror(errno));
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = GUEST_RAM_IPA, .memory_size = guest_ram_size,
        .userspace_addr = (uint64_t)(uintptr_t)guest_ram,
    };
    kvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");

    uint64_t entry, x0 = options.x0, x1 = options.x1;
    if (options.linux_image) {
        uint64_t initrd_size;
        load_file(options.linux_image, GUEST_LINUX_IMAGE_IPA, NULL);
        check_linux_image();
        load_file(options.initrd, GUEST_LINUX_INITRD_IPA, &initrd_size);
        build_linux_dtb(initrd_size);
        entry = GUEST_LINUX_IMAGE_IPA;
        x0 = GUEST_LINUX_DTB_IPA;
        x1 = 0;
    } else {
        load_file(options.probe_image, GUEST_SMALL_IMAGE_IPA, NULL);
        entry = GUEST_SMALL_IMAGE_IPA;
    }

    for (int i = 0; i < options.cpus; i++) create_vcpu(i);
    if (options.gic) create_interrupt_controller();
    for (int i = 0; i < options.cpus; i++) map_vcpu_run(&vcpus[i], mmap_size);
    /* vCPU 0 starts at the entry (EL1h, DAIF masked, MMU off: KVM's reset state); the others are
     * started by the guest's PSCI CPU_ON, which KVM handles. */
    set_core_register(&vcpus[0], offsetof(struct kvm_regs, regs.pc), entry);
    set_core_register(&vcpus[0], offsetof(struct kvm_regs, regs.regs[0]), x0);
    set_core_register(&vcpus[0], offsetof(struct kvm_regs, regs.regs[1]), x1);

    pl011_init(raise_spi, options.marker);
    printf("vmm: %s, %d vCPU(s), %llu MiB at IPA 0x%llx, %s, entry 0x%llx x0=0x%llx x1=0x%llx\n",
           options.linux_image ? "linux" : "probe", options.cpus, (unsigned long long)options.memory_mib,
           GUEST_RAM_IPA, options.gic == 3 ? "in-kernel vGICv3" : options.gic == 2 ? "in-kernel vGICv2" : "no interrupt controller",
           (unsigned long long)entry, (unsigned long long)x0, (unsigned long long)x1);
    start_counter = host_counter();
    for (int i = 0; i < options.cpus; i++)
        if (pthread_create(&vcpus[i].thread, NULL, vcpu_thread, &vcpus[i]) != 0) die("cannot start vCPU thread %d", i);
    for (int i = 0; i < options.cpus; i++) pthread_join(vcpus[i].thread, NULL);
    return 1;
}
