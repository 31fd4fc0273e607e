// The machine hvtrace asks QEMU for and the VM the hypervisor makes of it: physical CPUs (-smp),
// machine RAM (-m), vCPUs and guest RAM (the hypervisor's `vcpus=` and `mem=`). The limits are
// GuestShape's (hypervisor/core/model/GuestMemoryLayout.swift), the ones the hypervisor checks too.

import HypervisorModel

/// A byte count given as `256M`, `1G`, `1536MiB` or plain bytes (binary units).
public struct MemorySize: Equatable, Sendable, CustomStringConvertible {
    public var bytes: UInt64
    public init(bytes: UInt64) { self.bytes = bytes }

    /// Parses `N`, `NK`, `NM`, `NG` (optionally followed by `iB` or `B`, any case); nil otherwise.
    public init?(parsing text: String) {
        var digits = Substring(text.uppercased())
        for suffix in ["IB", "B"] where digits.hasSuffix(suffix) && digits.count > suffix.count {
            digits = digits.dropLast(suffix.count)
            break
        }
        var shift: UInt64 = 0
        switch digits.last {
        case "K": shift = 10
        case "M": shift = 20
        case "G": shift = 30
        default: break
        }
        if shift != 0 { digits = digits.dropLast() }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let value = UInt64(digits), value >> (64 - shift) == 0 else { return nil }
        bytes = value << shift
    }

    /// QEMU's notation (`-m 512M`, `size=3G`).
    public var qemuNotation: String {
        if bytes % (1 << 30) == 0 { return "\(bytes >> 30)G" }
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20)M" }
        return "\(bytes)"
    }

    /// `256 MiB`, `3 GiB`, `1536 MiB`, or bytes.
    public var description: String {
        if bytes % (1 << 30) == 0 && bytes != 0 { return "\(bytes >> 30) GiB" }
        if bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        return "\(bytes) bytes"
    }
}

/// What the user asked of the machine; nil fields take their defaults.
public struct MachineRequest: Equatable, Sendable {
    /// Physical CPUs QEMU emulates (`--cpus`, QEMU -smp).
    public var physicalCPUs = 2
    /// The VM's vCPUs (`--vcpus`; default: one per physical CPU for Linux, 1 for the small guests).
    public var vcpus: Int?
    /// Guest RAM (`--memory`; default 256 MiB for Linux, 128 MiB for the small guests).
    public var guestRAM: MemorySize?
    /// Machine RAM (`--machine-memory`, QEMU -m; default: the hypervisor's 256 MiB plus the guest's
    /// RAM, at least 1 GiB).
    public var machineRAM: MemorySize?

    public init(physicalCPUs: Int = 2, vcpus: Int? = nil, guestRAM: MemorySize? = nil, machineRAM: MemorySize? = nil) {
        self.physicalCPUs = physicalCPUs
        self.vcpus = vcpus
        self.guestRAM = guestRAM
        self.machineRAM = machineRAM
    }

    /// Machine RAM when `--machine-memory` is not given and the guest's needs are smaller.
    public static let defaultMachineRAMBytes: UInt64 = 1 << 30

    /// The shape for `guest`, checked the way the hypervisor checks it. `direct`: no hypervisor, so
    /// QEMU's -smp and -m are the guest's own vCPUs and RAM.
    public func resolve(for guest: GuestKind, direct: Bool) throws(LaunchError) -> MachineShape {
        let vcpus = self.vcpus ?? (guest == .linux ? physicalCPUs : 1)
        let guestRAM = self.guestRAM?.bytes ?? guest.defaultRAMBytes
        if direct, let machineRAM { throw .optionNeedsHypervisor(option: "--machine-memory \(machineRAM)") }
        let machineRAM = direct ? guestRAM
            : self.machineRAM?.bytes ?? max(Self.defaultMachineRAMBytes, GuestMemoryLayout.machineRAMNeeded(guestRAMBytes: guestRAM))
        // The same request fails the same way with and without the hypervisor: in direct mode the
        // machine is checked as if the hypervisor kept its share.
        let shape = GuestShape(vcpus: vcpus, guestRAMBytes: guestRAM, physicalCPUs: physicalCPUs,
                               machineRAMBytes: direct ? GuestMemoryLayout.machineRAMNeeded(guestRAMBytes: guestRAM) : machineRAM,
                               guestIsLinux: guest == .linux)
        do {
            try shape.validate()
        } catch {
            throw .shape(error, guest: guest)
        }
        return MachineShape(physicalCPUs: direct ? vcpus : physicalCPUs, vcpus: vcpus, guestRAMBytes: guestRAM,
                            machineRAMBytes: machineRAM)
    }
}

/// The checked machine: what QEMU gets (-smp, -m) and what the VM gets.
public struct MachineShape: Equatable, Sendable {
    /// QEMU -smp.
    public var physicalCPUs: Int
    public var vcpus: Int
    public var guestRAMBytes: UInt64
    /// QEMU -m, which is also the size of the shared RAM file.
    public var machineRAMBytes: UInt64

    public init(physicalCPUs: Int, vcpus: Int, guestRAMBytes: UInt64, machineRAMBytes: UInt64) {
        self.physicalCPUs = physicalCPUs
        self.vcpus = vcpus
        self.guestRAMBytes = guestRAMBytes
        self.machineRAMBytes = machineRAMBytes
    }

    /// The default machine for `guest`: 2 physical CPUs, 1 GiB.
    public static func defaultShape(for guest: GuestKind) -> MachineShape {
        try! MachineRequest().resolve(for: guest, direct: false)
    }
}
