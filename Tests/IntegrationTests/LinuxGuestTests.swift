import Foundation
import Testing

/// Boots Debian's arm64 kernel with the busybox initramfs under the hypervisor in QEMU (2 vCPUs on
/// 2 physical CPUs) through `hypervisor/scripts/test-linux.sh`, which checks the console (workload
/// markers in order, Linux at EL1, 2 CPUs, the hypervisor's exit summary) and a clean power-off,
/// then boots the interactive shell, types into it, unplugs and replugs CPU 1 eight times and exits it.
/// Skipped, with the reason, only when QEMU or the guest images are missing.
struct LinuxGuestTests {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let guestDirectory = packageRoot.appendingPathComponent("cache/guests/linux")
    /// Each of the script's two boots is bounded at 180 s; this only guards against the script hanging.
    static let timeoutSeconds: TimeInterval = 420

    static var qemuPath: String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/qemu-system-aarch64" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var guestImagesPresent: Bool {
        ["Image", "initramfs.cpio.gz"].allSatisfy {
            FileManager.default.fileExists(atPath: guestDirectory.appendingPathComponent($0).path)
        }
    }

    @Test(
        .enabled(if: qemuPath != nil, "qemu-system-aarch64 not on PATH (apt-get install qemu-system-arm)"),
        .enabled(if: guestImagesPresent, "no cache/guests/linux/{Image,initramfs.cpio.gz}: run scripts/setup-guests.sh"),
        .timeLimit(.minutes(8))
    )
    func linuxBootsUnderTheHypervisorAndPowersOff() throws {
        let text = try Self.runTestLinux([])
        #expect(text.contains("pass: CPU: All CPU(s) started at EL1"))
        #expect(text.contains("pass: smp: Brought up 1 node, 2 CPUs"))
        #expect(text.contains("pass: typed command answered (PL011 RX interrupt)"))
        #expect(text.contains("pass: CPU 1 unplugged and replugged 8 times (CPU_OFF, AFFINITY_INFO, CPU_ON)"))
    }

    /// The machine shapes users have (issue 14): 1 vCPU (no CPU_ON surprise), 4 vCPUs on 4 physical
    /// CPUs with 3 GiB of guest RAM; the workload runs to its end and the DTB says so (cpus= marker,
    /// Linux's CPU count, the VM's RAM). One scripted boot each, no shell.
    @Test(
        .enabled(if: qemuPath != nil, "qemu-system-aarch64 not on PATH (apt-get install qemu-system-arm)"),
        .enabled(if: guestImagesPresent, "no cache/guests/linux/{Image,initramfs.cpio.gz}: run scripts/setup-guests.sh"),
        .timeLimit(.minutes(5)),
        arguments: [(cpus: 1, memory: "256M"), (cpus: 4, memory: "3G")]
    )
    func linuxBootsInTheShapeAskedFor(shape: (cpus: Int, memory: String)) throws {
        let text = try Self.runTestLinux(["--no-shell", "--cpus", String(shape.cpus), "--memory", shape.memory])
        #expect(text.contains("pass: no firmware CPU_ON failure"))
    }

    /// Runs test-linux.sh with `arguments` and checks it passed; returns its output.
    static func runTestLinux(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.packageRoot.appendingPathComponent("hypervisor/scripts/test-linux.sh").path] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(scriptEnvironment) { $1 }
        process.standardInput = FileHandle.nullDevice
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.timeoutSeconds, execute: watchdog)
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        watchdog.cancel()
        let summary = text.split(separator: "\n").filter { $0.contains("FAIL") || $0.hasPrefix("test-linux") }
            .joined(separator: "\n")
        #expect(process.terminationReason == .exit, "test-linux.sh did not finish within \(Self.timeoutSeconds) s")
        #expect(process.terminationStatus == 0, "test-linux.sh failed:\n\(summary)\n\(text.suffix(4000))")
        #expect(text.contains("test-linux: all passed"))
        return text
    }
}
