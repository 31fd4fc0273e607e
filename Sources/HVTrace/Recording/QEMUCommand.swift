// The one definition of how hvtrace starts QEMU: machine, CPU, shared RAM file, hypervisor, guest
// images at the physical addresses fixed in notes/common.md, and the deterministic-mode switches.

import TraceFormat

/// The guests the hypervisor can run, with where their images come from and where QEMU loads them.
public enum GuestKind: String, CaseIterable, Sendable {
    case probe
    /// The probe's compare mode: the operations measured side by side with KVM (issue 12).
    case probeCompare = "probe-compare"
    case nimbosContract = "nimbos-contract"
    case linux

    /// Host PA of the kernel image: VM 0's IPA 0x4008_0000 (probe, NimbOS) or 0x4020_0000 (Linux,
    /// 2 MiB aligned) in guest RAM that starts at PA 0x5000_0000 (notes/common.md).
    public var imageAddress: UInt64 { self == .linux ? 0x5020_0000 : 0x5008_0000 }
    /// Host PA of the Linux initramfs (IPA 0x4800_0000).
    public static let initramfsAddress: UInt64 = 0x5800_0000

    /// The image used when `--image` is not given, relative to the repository root.
    public var defaultImage: String {
        switch self {
        case .probe, .probeCompare: return "hypervisor/build/probe.bin"
        case .nimbosContract: return "hypervisor/build/nimbos-contract.bin"
        case .linux: return "cache/guests/linux/Image"
        }
    }

    /// How to get the default image when it is missing.
    public var imageHint: String {
        switch self {
        case .probe, .probeCompare: return "run `make -C hypervisor` (it builds build/probe.bin) or pass --image"
        case .nimbosContract: return "build the NimbOS contract image or pass --image"
        case .linux: return "run scripts/setup-guests.sh (it fetches Image and initramfs.cpio.gz) or pass --image"
        }
    }

    /// The Linux initramfs that goes with the default image.
    public static let defaultInitramfs = "cache/guests/linux/initramfs.cpio.gz"
}

/// A file QEMU's generic loader places at a physical address (`-device loader,file=…,addr=…,force-raw=on`).
public struct LoadedImage: Equatable, Sendable {
    public var path: String
    public var address: UInt64
    public init(path: String, address: UInt64) {
        self.path = path
        self.address = address
    }
}

/// The complete QEMU invocation for one hypervisor run.
public struct QEMUCommand: Equatable, Sendable {
    public var executable = "qemu-system-aarch64"
    /// Words between the executable and QEMU's arguments (a wrapper such as `hvtrace fake-qemu --`).
    public var executablePrefixArguments: [String] = []
    public var cpuCount = 2
    /// Guest RAM, which is also the size of the shared RAM file (QEMU virt RAM: 0x4000_0000–0x8000_0000).
    public var memoryBytes: UInt64 = 1 << 30
    public var ramFilePath: String
    public var hypervisorELF: String
    public var guest: GuestKind
    public var images: [LoadedImage]
    /// Extra words for the hypervisor's /chosen/bootargs after `guest=…` (e.g. `initrd_size=0x…`).
    public var extraBootArguments: [String] = []
    /// Fixed instruction counting, no DTB randomness, a VM clock from a fixed date: two runs of the
    /// same guest produce the same events with the same timestamps.
    public var deterministic = false

    public init(ramFilePath: String, hypervisorELF: String, guest: GuestKind, images: [LoadedImage],
                extraBootArguments: [String] = [], deterministic: Bool = false, cpuCount: Int = 2) {
        self.ramFilePath = ramFilePath
        self.hypervisorELF = hypervisorELF
        self.guest = guest
        self.images = images
        self.extraBootArguments = extraBootArguments
        self.deterministic = deterministic
        self.cpuCount = cpuCount
    }

    /// The hypervisor's boot arguments (QEMU passes them in the DTB's /chosen/bootargs).
    public var bootArguments: String {
        (["guest=\(guest.rawValue)"] + extraBootArguments).joined(separator: " ")
    }

    /// `-m` and the backend size in QEMU's notation.
    var memorySize: String {
        memoryBytes % (1 << 30) == 0 ? "\(memoryBytes >> 30)G" : "\(memoryBytes >> 20)M"
    }

    /// The arguments after the executable name.
    public var arguments: [String] { executablePrefixArguments + qemuArguments }

    /// What makes a QEMU run repeat exactly, for every machine hvtrace starts (this one and the KVM
    /// reference machine): fixed instruction counting without sleeping (one instruction = 1 ns of
    /// virtual time) and a VM clock from a fixed date.
    public static let deterministicArguments = ["-icount", "shift=0,sleep=off", "-rtc", "base=2024-01-01T00:00:00,clock=vm"]
    /// Added to `-M virt,…` in deterministic runs: no random seeds in the DTB.
    public static let deterministicMachineOption = "dtb-randomness=off"

    /// QEMU's own arguments.
    public var qemuArguments: [String] {
        var machine = "virt,virtualization=on,gic-version=2,memory-backend=ram"
        if deterministic { machine += "," + Self.deterministicMachineOption }
        var arguments = [
            "-M", machine,
            "-cpu", "cortex-a72",
            "-smp", "\(cpuCount)",
            "-m", memorySize,
            "-object", "memory-backend-file,id=ram,size=\(memorySize),mem-path=\(ramFilePath),share=on",
            "-nographic",
            // A guest reset or hypervisor crash ends the run instead of booting again over the trace.
            "-no-reboot",
            "-kernel", hypervisorELF,
        ]
        for image in images {
            arguments += ["-device", "loader,file=\(image.path),addr=0x\(String(image.address, radix: 16)),force-raw=on"]
        }
        arguments += ["-append", bootArguments]
        if deterministic { arguments += Self.deterministicArguments }
        return arguments
    }

    /// The command line as one shell-quoted string (for the .hvt metadata and `--dry-run`).
    public var commandLine: String {
        ([executable] + arguments).map(shellQuoted).joined(separator: " ")
    }
}

/// `word` quoted for a POSIX shell when it needs quoting.
func shellQuoted(_ word: String) -> String {
    let safe = word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=,:+@%".contains($0) }
    if safe && !word.isEmpty { return word }
    var quoted = "'"
    for character in word {
        if character == "'" { quoted += "'\\''" } else { quoted.append(character) }
    }
    return quoted + "'"
}
