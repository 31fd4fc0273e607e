// Broken configurations end quickly with a message that says what to change and a non-zero exit
// (issue 14 §3): hvtrace's own checks (exit 2, nothing started), the hypervisor's (it prints why,
// records `configurationRejected` in its end status and powers off; hvtrace exits 1), and a run
// whose guest did not reach its own end. Each boot is short and bounded.

import Foundation
import HVTrace
import HypervisorModel
import Testing

@Suite("Configuration errors end quickly and non-zero", .serialized,
       .enabled(if: qemuPath != nil, "qemu-system-aarch64 is not installed"))
struct LaunchErrorTests {
    /// `hvtrace ARGUMENTS` with the repository root, bounded.
    static func hvtrace(_ arguments: [String], timeout: Double = 60) throws -> (status: Int32, output: String) {
        try runProcess(HVTraceExecutable.path, [arguments[0], "--root", repositoryRoot, "--no-build"] + arguments.dropFirst(),
                       timeout: timeout)
    }

    @Test("hvtrace refuses a shape before starting QEMU (exit 2)", arguments: [
        (["run", "--guest", "linux", "--cpus", "2", "--vcpus", "3"], "more vCPUs than physical CPUs is not supported yet"),
        (["record", "--guest", "linux", "--memory", "4G", "-o", "/tmp/never.hvt"], "--memory 4 GiB: a Linux guest has 256 MiB…3 GiB"),
        (["run", "--guest", "nimbos"], "--guest nimbos needs --image FILE"),
        (["run", "--guest", "probe", "--direct"], "cannot run without it"),
    ])
    func refusedByHVTrace(arguments: [String], message: String) throws {
        try buildOnce.get()
        let (status, output) = try Self.hvtrace(arguments, timeout: 30)
        #expect(status == 2, "\(output)")
        #expect(output.hasPrefix("hvtrace: error: ") && output.contains(message), "\(output)")
    }

    @Test("a Linux boot the hypervisor refuses (initramfs not gzip) ends at once with its reason, hvtrace exit 1",
          .enabled(if: LinuxGuestTests.guestImagesPresent, "no cache/guests/linux images (scripts/setup-guests.sh)"))
    func refusedLinuxBoot() throws {
        try buildOnce.get()
        let bogus = NSTemporaryDirectory() + "hvtrace-not-gzip-\(getpid())"
        FileManager.default.createFile(atPath: bogus, contents: Data(repeating: 0x55, count: 4096))
        defer { try? FileManager.default.removeItem(atPath: bogus) }
        let start = Date()
        let (status, output) = try Self.hvtrace(["run", "--guest", "linux", "--initramfs", bogus], timeout: 60)
        #expect(Date().timeIntervalSince(start) < 30, "took \(Date().timeIntervalSince(start)) s")
        #expect(status == 1, "\(output)")
        #expect(output.contains("hv: cannot boot linux: no gzip initramfs at PA 0x58000000"), "\(output)")
        #expect(output.contains("hvtrace: the hypervisor refused the configuration"), "\(output)")
        #expect(!output.contains("guest powered off"), "\(output)")
    }

    @Test("a Linux panic (SYSTEM_RESET after panic=1) is not the guest's end: hvtrace exits 1",
          .enabled(if: LinuxGuestTests.guestImagesPresent, "no cache/guests/linux images (scripts/setup-guests.sh)"))
    func linuxPanicIsNotAnEnd() throws {
        try buildOnce.get()
        // A later rdinit= wins: no init, the kernel panics and reboots after 1 s; -no-reboot ends QEMU.
        let (status, output) = try Self.hvtrace(["run", "--guest", "linux", "--cpus", "1", "--guest-append", "rdinit=/no-such-init panic=1"],
                                                timeout: 120)
        #expect(status == 1, "\(output.suffix(3000))")
        #expect(output.contains("Kernel panic"), "\(output.suffix(3000))")
        #expect(output.contains("hv: guest requested SYSTEM_RESET"), "\(output.suffix(3000))")
        #expect(output.contains("hvtrace: guest requested SYSTEM_RESET"), "\(output.suffix(3000))")
    }

    @Test("the guest's debug panic ends QEMU (no hang) and hvtrace exits 1")
    func guestPanicEndsTheRun() throws {
        try buildOnce.get()
        let (status, output) = try Self.hvtrace(["run", "--guest", "probe", "--append", "panic=1", "--", "-icount", "shift=0,sleep=off"],
                                                timeout: 60)
        #expect(status == 1, "\(output)")
        #expect(output.contains("hv PANIC: requested by the guest"), "\(output)")
        #expect(output.contains("hvtrace: the guest requested the debug panic"), "\(output)")
    }

    /// QEMU started by hand with too little RAM (-m 256M, the repro): the hypervisor says
    /// what -m it needs and powers off, its end status says `configurationRejected`.
    @Test("-m 256M: the hypervisor names the RAM it needs and powers off instead of faulting at EL2",
          arguments: [GuestKind.probe, .linux])
    func tooLittleMachineRAM(guest: GuestKind) throws {
        try buildOnce.get()
        guard let qemuPath else { return }
        if guest == .linux && !LinuxGuestTests.guestImagesPresent { return }
        let ramFile = "/dev/shm/hvtrace-test-small-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: ramFile) }
        var options = RecordingOptions(guest: guest)
        options.repositoryRoot = repositoryRoot
        var command = try GuestLaunch.command(for: options, ramFilePath: ramFile)
        command.shape.machineRAMBytes = 256 << 20
        let start = Date()
        let (status, console) = try runProcess(qemuPath, command.qemuArguments, timeout: 60)
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(status == 0, "QEMU ends by SYSTEM_OFF: \(console)")
        #expect(console.contains("hv: cannot run this VM: guest RAM needs PA 0x50000000 to "), "\(console)")
        #expect(console.contains("give QEMU -m "), "\(console)")
        #expect(!console.contains("PANIC"), "\(console)")
        let handle = try #require(FileHandle(forReadingAtPath: ramFile))
        defer { try? handle.close() }
        try handle.seek(toOffset: RunEndStatus.ramFileOffset)
        let block = [UInt8](try handle.read(upToCount: RunEndStatus.size) ?? Data())
        #expect(block.count == RunEndStatus.size)
        let magic = block[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        #expect(magic == RunEndStatus.magic)
        #expect(block[8] == UInt8(RunEndState.configurationRejected.rawValue))
    }
}
