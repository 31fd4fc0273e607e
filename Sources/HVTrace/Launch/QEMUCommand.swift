// The one definition of how hvtrace starts QEMU: machine, CPU, shape (-smp, -m), the shared RAM
// file, the hypervisor and the guest images at the addresses of GuestMemoryLayout, or (direct) the
// guest alone on QEMU; the deterministic-mode switches; the user's extra QEMU words last. Every
// launcher (hvtrace run / record / top, hypervisor/scripts/run-qemu.sh, scripts/run-linux-direct.sh,
// hypervisor/scripts/test-linux.sh, the integration tests) goes through this type.

import TraceFormat

/// A file QEMU's generic loader places at a physical address (`-device loader,file=…,addr=…,force-raw=on`).
public struct LoadedImage: Equatable, Sendable {
    public var path: String
    public var address: UInt64
    public init(path: String, address: UInt64) {
        self.path = path
        self.address = address
    }
}

/// The complete QEMU invocation for one run.
public struct QEMUCommand: Equatable, Sendable {
    /// What QEMU boots.
    public enum Boot: Equatable, Sendable {
        /// The hypervisor at EL2 (`-kernel hv.elf`), guest RAM shared through `ramFilePath` so
        /// hvtrace reads the trace region and the end status; the guest's images go in with
        /// `-device loader`, and `bootArguments` (`guest=… vcpus=… mem=…`) reach the hypervisor as
        /// /chosen/bootargs.
        case hypervisor(elf: String, ramFilePath: String, images: [LoadedImage], bootArguments: [String])
        /// The guest directly on QEMU, no hypervisor (the baseline): `-kernel`, optionally `-initrd`,
        /// `-dtb` and a kernel command line.
        case direct(kernel: String, initrd: String?, deviceTree: String?, commandLine: String?)
    }

    public var executable = "qemu-system-aarch64"
    /// Words between the executable and QEMU's arguments (a wrapper such as `hvtrace fake-qemu --`).
    public var executablePrefixArguments: [String] = []
    public var guest: GuestKind
    public var shape: MachineShape
    public var boot: Boot
    /// Fixed instruction counting, no DTB randomness, a VM clock from a fixed date: two runs of the
    /// same guest produce the same events with the same timestamps.
    public var deterministic = false
    /// The user's own QEMU words (`hvtrace run … -- WORDS`), placed last so they win.
    public var extraArguments: [String] = []

    public init(guest: GuestKind, shape: MachineShape, boot: Boot, deterministic: Bool = false) {
        self.guest = guest
        self.shape = shape
        self.boot = boot
        self.deterministic = deterministic
    }

    /// The hypervisor run of `guest` on the default machine (tests and simple callers).
    public init(ramFilePath: String, hypervisorELF: String, guest: GuestKind, images: [LoadedImage],
                extraBootArguments: [String] = [], deterministic: Bool = false, shape: MachineShape? = nil) {
        let shape = shape ?? MachineShape.defaultShape(for: guest)
        self.init(guest: guest, shape: shape,
                  boot: .hypervisor(elf: hypervisorELF, ramFilePath: ramFilePath, images: images,
                                    bootArguments: Self.hypervisorBootArguments(guest: guest, shape: shape) + extraBootArguments),
                  deterministic: deterministic)
    }

    /// The hypervisor's own words for `guest` on `shape`: `guest=NAME`, and for Linux the VM's shape.
    public static func hypervisorBootArguments(guest: GuestKind, shape: MachineShape) -> [String] {
        var words = ["guest=\(guest.rawValue)"]
        if guest == .linux { words += ["vcpus=\(shape.vcpus)", "mem=0x" + String(shape.guestRAMBytes, radix: 16)] }
        return words
    }

    /// The hypervisor's boot arguments (nil in direct mode).
    public var bootArguments: String? {
        if case let .hypervisor(_, _, _, words) = boot { return words.joined(separator: " ") }
        return nil
    }

    /// The shared RAM file (nil in direct mode).
    public var ramFilePath: String? {
        if case let .hypervisor(_, path, _, _) = boot { return path }
        return nil
    }

    /// Points a hypervisor command at the RAM file created for it (once its size is known).
    public mutating func useRAMFile(_ path: String) {
        if case let .hypervisor(elf, _, images, words) = boot {
            boot = .hypervisor(elf: elf, ramFilePath: path, images: images, bootArguments: words)
        }
    }

    public var isDirect: Bool { if case .direct = boot { true } else { false } }

    /// The arguments after the executable name.
    public var arguments: [String] { executablePrefixArguments + qemuArguments }

    /// What makes a QEMU run repeat exactly, for every machine hvtrace starts (this one and the KVM
    /// reference machine): fixed instruction counting without sleeping (one instruction = 1 ns of
    /// virtual time) and a VM clock from a fixed date.
    public static let deterministicArguments = ["-icount", "shift=0,sleep=off", "-rtc", "base=2024-01-01T00:00:00,clock=vm"]
    /// Added to `-M virt,…` in deterministic runs: no random seeds in the DTB.
    public static let deterministicMachineOption = "dtb-randomness=off"
    /// The CPU every machine emulates.
    public static let cpuModel = "cortex-a72"

    /// `-M virt,…`: EL2 for the hypervisor, the GIC version, RAM from the shared backend.
    var machineOption: String {
        var options = ["virt"]
        if !isDirect { options.append("virtualization=on") }
        options.append("gic-version=2")
        if !isDirect { options.append("memory-backend=ram") }
        if deterministic { options.append(Self.deterministicMachineOption) }
        return options.joined(separator: ",")
    }

    /// QEMU's own arguments, in sections: machine, shape and RAM; console; what boots; devices;
    /// determinism; the user's extra words.
    public var qemuArguments: [String] {
        let memory = MemorySize(bytes: shape.machineRAMBytes).qemuNotation
        var arguments = ["-M", machineOption, "-cpu", Self.cpuModel, "-smp", "\(shape.physicalCPUs)", "-m", memory]
        if let ramFilePath {
            arguments += ["-object", "memory-backend-file,id=ram,size=\(memory),mem-path=\(ramFilePath),share=on"]
        }
        // A guest reset or hypervisor crash ends the run instead of booting again over the trace.
        arguments += ["-nographic", "-no-reboot"]
        switch boot {
        case let .hypervisor(elf, _, images, _):
            arguments += ["-kernel", elf]
            for image in images {
                arguments += ["-device", "loader,file=\(image.path),addr=0x\(String(image.address, radix: 16)),force-raw=on"]
            }
            arguments += ["-append", bootArguments ?? ""]
        case let .direct(kernel, initrd, deviceTree, commandLine):
            arguments += ["-kernel", kernel]
            if let initrd { arguments += ["-initrd", initrd] }
            if let deviceTree { arguments += ["-dtb", deviceTree] }
            if let commandLine { arguments += ["-append", commandLine] }
        }
        if deterministic { arguments += Self.deterministicArguments }
        return arguments + extraArguments
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
