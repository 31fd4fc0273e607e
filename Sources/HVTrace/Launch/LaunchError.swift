// Every way a launch request is wrong before QEMU starts, each with a message that names the option
// or file, the value, the limit and what to do instead.

import HypervisorModel

/// Why hvtrace will not start QEMU for a request.
public enum LaunchError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The VM shape breaks a limit the hypervisor has (GuestShape.validate).
    case shape(GuestShapeError, guest: GuestKind)
    /// `--guest nimbos` without `--image`.
    case imageRequired(guest: GuestKind)
    /// `--direct` with a guest that needs the hypervisor (the probe family).
    case directNeedsHypervisor(guest: GuestKind)
    /// An option that only makes sense under the hypervisor (`--machine-memory`, `--mode`, recording) with `--direct`.
    case optionNeedsHypervisor(option: String)
    /// An option only the direct baseline has (`--dtb`).
    case optionNeedsDirect(option: String)
    /// The Linux Image's header (booting.rst) says the hypervisor cannot boot it.
    case imageRejected(path: String, LinuxImageError)
    /// A Linux-only option (`--initramfs`, `--shell`, `--guest-append`) with another guest.
    case optionNeedsLinux(option: String, guest: GuestKind)

    public var description: String {
        switch self {
        case let .shape(error, guest):
            return Self.describe(error, guest: guest)
        case let .imageRequired(guest):
            return "--guest \(guest.rawValue) needs --image FILE: \(guest.imageHint)"
        case let .directNeedsHypervisor(guest):
            return "--direct: the \(guest.rawValue) guest talks to the hypervisor (its hypercalls and test device) and cannot run without it; --direct runs linux and nimbos"
        case let .optionNeedsHypervisor(option):
            return "\(option) applies to runs under the hypervisor; drop it or drop --direct"
        case let .optionNeedsDirect(option):
            return "\(option) applies to --direct only (under the hypervisor, the hypervisor writes the guest's DTB)"
        case let .imageRejected(path, error):
            let field = error.field
            return "\(path): Linux Image header \(field.name) (offset 0x\(String(field.offset, radix: 16))) = "
                + "0x\(String(field.value, radix: 16)): \(error.problem) (Documentation/arch/arm64/booting.rst)"
        case let .optionNeedsLinux(option, guest):
            return "\(option) applies to --guest linux, not to \(guest.rawValue)"
        }
    }

    static func describe(_ error: GuestShapeError, guest: GuestKind) -> String {
        func size(_ bytes: UInt64) -> String { MemorySize(bytes: bytes).description }
        let maximum = GuestMemoryLayout.maximumCPUs
        switch error {
        case let .physicalCPUsOutOfRange(count):
            return "--cpus \(count): QEMU virt under the hypervisor has 1…\(maximum) physical CPUs (GICv2 serves at most \(maximum))"
        case let .vcpusOutOfRange(count):
            return "--vcpus \(count): a VM has 1…\(maximum) vCPUs"
        case let .moreVCpusThanPhysicalCPUs(vcpus, physical):
            return "--vcpus \(vcpus) on --cpus \(physical): more vCPUs than physical CPUs is not supported yet "
                + "(vCPU n runs on physical CPU n; there is no vCPU scheduler); use --cpus \(vcpus) or --vcpus \(physical)"
        case let .guestRAMOutOfRange(bytes):
            return "--memory \(size(bytes)): a Linux guest has \(size(GuestMemoryLayout.linuxMinimumRAMBytes))…"
                + "\(size(GuestMemoryLayout.linuxMaximumRAMBytes)) (its DTB sits at the top of the first 256 MiB; "
                + "the VM's 32-bit IPA space ends at 4 GiB)"
        case let .guestRAMNotAligned(bytes):
            return "--memory \(size(bytes)): guest RAM must be a multiple of 2 MiB (stage-2 block size)"
        case let .smallGuestHasOneVCpu(count):
            return "--vcpus \(count): the \(guest.rawValue) guest runs on one vCPU (more vCPUs: --guest linux)"
        case let .smallGuestRAMFixed(bytes):
            return "--memory \(size(bytes)): the \(guest.rawValue) guest has \(size(GuestMemoryLayout.smallGuestRAMBytes)) "
                + "(NimbOS's contract); --memory applies to --guest linux"
        case let .machineRAMTooSmall(machine, needed):
            return "--machine-memory \(size(machine)) cannot hold the hypervisor's "
                + "\(size(GuestMemoryLayout.hypervisorReservedBytes)) and \(size(needed - GuestMemoryLayout.hypervisorReservedBytes)) "
                + "of guest RAM; use --machine-memory \(MemorySize(bytes: needed).qemuNotation) or more (or leave it out: hvtrace sizes it)"
        }
    }
}
