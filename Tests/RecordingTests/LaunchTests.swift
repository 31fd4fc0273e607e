// The one launcher (Sources/HVTrace/Launch): the QEMU command for every guest and shape, with and
// without the hypervisor, and every request it refuses before QEMU starts, with its message.

import Foundation
import Testing
@testable import HVTrace
import HypervisorModel

/// A repository root with placeholder images: hv.elf, probe.bin, a Linux Image with a real header
/// (flags as given), an initramfs, a NimbOS binary.
struct LaunchRoot {
    let root: String

    init(imageFlags: UInt64 = 0xA) throws {
        root = NSTemporaryDirectory() + "hvtrace-launch-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let manager = FileManager.default
        try manager.createDirectory(atPath: root + "/hypervisor/build", withIntermediateDirectories: true)
        try manager.createDirectory(atPath: root + "/cache/guests/linux", withIntermediateDirectories: true)
        for file in ["hypervisor/build/hv.elf", "hypervisor/build/probe.bin", "nimbos.bin"] {
            _ = manager.createFile(atPath: root + "/" + file, contents: Data([0]))
        }
        var header = [UInt8](repeating: 0, count: 64)
        func put(_ value: UInt64, at offset: Int) { for i in 0..<8 { header[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) } }
        put(0x201_0000, at: 0x10)
        put(imageFlags, at: 0x18)
        put(UInt64(LinuxImageHeader.magicValue), at: 0x38)
        _ = manager.createFile(atPath: root + "/cache/guests/linux/Image", contents: Data(header))
        _ = manager.createFile(atPath: root + "/cache/guests/linux/initramfs.cpio.gz", contents: Data([0x1F, 0x8B, 0, 0, 0, 0, 0, 0, 0, 0]))
    }

    func options(_ guest: GuestKind, _ configure: (inout RecordingOptions) -> Void = { _ in }) -> RecordingOptions {
        var options = RecordingOptions(guest: guest)
        options.repositoryRoot = root
        configure(&options)
        return options
    }

    func command(_ guest: GuestKind, _ configure: (inout RecordingOptions) -> Void = { _ in }) throws -> QEMUCommand {
        try GuestLaunch.command(for: options(guest, configure), ramFilePath: "/dev/shm/ram")
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

@Suite("The one launcher")
struct LaunchTests {
    @Test("memory sizes", arguments: [("256M", UInt64(256) << 20), ("3G", 3 << 30), ("1536MiB", 1536 << 20), ("2g", 2 << 30),
                                      ("512mb", 512 << 20), ("4096", 4096), ("64K", 64 << 10)])
    func memorySizes(text: String, bytes: UInt64) {
        #expect(MemorySize(parsing: text)?.bytes == bytes)
    }

    @Test("not memory sizes", arguments: ["", "M", "1T", "-1G", "1.5G", "G1", "99999999999999999999G"])
    func badMemorySizes(text: String) {
        #expect(MemorySize(parsing: text) == nil)
    }

    @Test("Linux under the hypervisor: -smp and -m from --cpus and --memory, vcpus= and mem= for the hypervisor")
    func linuxShape() throws {
        let launch = try LaunchRoot()
        defer { launch.remove() }
        let command = try launch.command(.linux) { $0.machine = MachineRequest(physicalCPUs: 4, guestRAM: MemorySize(parsing: "3G")) }
        let arguments = command.qemuArguments
        #expect(arguments.joined(separator: " ").contains("-smp 4 -m 3328M -object memory-backend-file,id=ram,size=3328M,mem-path=/dev/shm/ram,share=on"))
        #expect(command.bootArguments == "guest=linux vcpus=4 mem=0xc0000000 initrd_size=0xa")
        // One vCPU per physical CPU by default, and --vcpus below that.
        let fewer = try launch.command(.linux) { $0.machine = MachineRequest(physicalCPUs: 4, vcpus: 2) }
        #expect(fewer.bootArguments == "guest=linux vcpus=2 mem=0x10000000 initrd_size=0xa")
        #expect(fewer.qemuArguments.joined(separator: " ").contains("-smp 4 -m 1G"))
    }

    @Test("guest words go after `--`, the user's QEMU words last")
    func wordsInTheirPlaces() throws {
        let launch = try LaunchRoot()
        defer { launch.remove() }
        let command = try launch.command(.linux) {
            $0.shell = true
            $0.guestCommandLine = ["quiet"]
            $0.extraBootArguments = ["trace=off"]
            $0.qemuExtraArguments = ["-icount", "shift=0"]
        }
        #expect(command.bootArguments == "guest=linux vcpus=2 mem=0x10000000 initrd_size=0xa trace=off -- quiet hvtrace.shell=1")
        #expect(Array(command.qemuArguments.suffix(2)) == ["-icount", "shift=0"])
    }

    @Test("--direct: the guest alone on QEMU, same shape, no hypervisor, no RAM file")
    func direct() throws {
        let launch = try LaunchRoot()
        defer { launch.remove() }
        let linux = try launch.command(.linux) {
            $0.direct = true
            $0.deterministic = true
            $0.machine = MachineRequest(physicalCPUs: 4, guestRAM: MemorySize(parsing: "1G"))
            $0.guestCommandLine = ["rdinit=/init"]
        }
        #expect(linux.commandLine == "qemu-system-aarch64 -M virt,gic-version=2,dtb-randomness=off -cpu cortex-a72 -smp 4 -m 1G"
            + " -nographic -no-reboot -kernel \(launch.root)/cache/guests/linux/Image -initrd \(launch.root)/cache/guests/linux/initramfs.cpio.gz"
            + " -append 'console=ttyAMA0 panic=-1 rdinit=/init' -icount shift=0,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm")
        #expect(linux.ramFilePath == nil)
        let nimbos = try launch.command(.nimbos) { $0.direct = true; $0.image = launch.root + "/nimbos.bin" }
        #expect(nimbos.commandLine == "qemu-system-aarch64 -M virt,gic-version=2 -cpu cortex-a72 -smp 1 -m 128M -nographic -no-reboot"
            + " -kernel \(launch.root)/nimbos.bin")
    }

    @Test("--guest nimbos --image FILE: loaded at IPA 0x4008_0000 under the hypervisor")
    func nimbos() throws {
        let launch = try LaunchRoot()
        defer { launch.remove() }
        let command = try launch.command(.nimbos) { $0.image = launch.root + "/nimbos.bin" }
        #expect(command.qemuArguments.contains("loader,file=\(launch.root)/nimbos.bin,addr=0x50080000,force-raw=on"))
        #expect(command.bootArguments == "guest=nimbos")
    }

    @Test("requests refused before QEMU starts, each naming the option and what to do", arguments: [
        (GuestKind.nimbos, { @Sendable (_: inout RecordingOptions) in }, "--guest nimbos needs --image FILE"),
        (.probe, { $0.direct = true }, "--direct: the probe guest talks to the hypervisor"),
        (.linux, { $0.machine = MachineRequest(physicalCPUs: 2, vcpus: 4) },
         "--vcpus 4 on --cpus 2: more vCPUs than physical CPUs is not supported yet"),
        (.linux, { $0.machine = MachineRequest(physicalCPUs: 9) }, "--cpus 9: QEMU virt under the hypervisor has 1…8 physical CPUs"),
        (.linux, { $0.machine = MachineRequest(guestRAM: MemorySize(parsing: "4G")) }, "--memory 4 GiB: a Linux guest has 256 MiB…3 GiB"),
        (.linux, { $0.machine = MachineRequest(guestRAM: MemorySize(parsing: "128M")) }, "--memory 128 MiB: a Linux guest has 256 MiB…3 GiB"),
        (.linux, { $0.machine = MachineRequest(guestRAM: MemorySize(parsing: "1G"), machineRAM: MemorySize(parsing: "1G")) },
         "--machine-memory 1 GiB cannot hold the hypervisor's 256 MiB and 1 GiB of guest RAM; use --machine-memory 1280M or more"),
        (.probe, { $0.machine = MachineRequest(guestRAM: MemorySize(parsing: "256M")) }, "the probe guest has 128 MiB (NimbOS's contract)"),
        (.probe, { $0.machine = MachineRequest(vcpus: 2) }, "--vcpus 2: the probe guest runs on one vCPU"),
        (.linux, { $0.deviceTree = "/x.dtb" }, "--dtb applies to --direct only"),
        (.probe, { $0.initramfs = "/x" }, "--initramfs applies to --guest linux, not to probe"),
        (.probe, { $0.shell = true }, "--shell applies to --guest linux"),
        (.linux, { $0.direct = true; $0.mode = .overwrite }, "--mode applies to runs under the hypervisor"),
        (.linux, { $0.direct = true; $0.machine.machineRAM = MemorySize(parsing: "2G") }, "--machine-memory 2 GiB applies to runs under the hypervisor"),
        (.linux, { $0.image = "/nonexistent/Image" }, "/nonexistent/Image: no such file"),
    ] as [(GuestKind, @Sendable (inout RecordingOptions) -> Void, String)])
    func refused(guest: GuestKind, configure: @Sendable (inout RecordingOptions) -> Void, message: String) throws {
        let launch = try LaunchRoot()
        defer { launch.remove() }
        let error = #expect(throws: RecordingError.self) { try launch.command(guest, configure) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
    }

    @Test("a big-endian Image is refused before QEMU starts, naming flags at 0x18 and its value",
          arguments: [(UInt64(0x1), "flags (offset 0x18) = 0x1: bit 0 set: a big-endian kernel"),
                      (0xB, "flags (offset 0x18) = 0xb: bit 0 set"),
                      (0x4, "flags (offset 0x18) = 0x4: bits 1-2 ask for a page size this CPU does not implement")])
    func imageRefused(flags: UInt64, message: String) throws {
        let launch = try LaunchRoot(imageFlags: flags)
        defer { launch.remove() }
        let error = #expect(throws: RecordingError.self) { try launch.command(.linux) }
        #expect(error?.description.contains("cache/guests/linux/Image: Linux Image header " + message) == true, "\(error?.description ?? "")")
        // The direct baseline leaves the Image to QEMU.
        _ = try launch.command(.linux) { $0.direct = true }
    }
}
