import Foundation
import HVTrace
import Testing

/// Records Debian's Linux boot + workload under the hypervisor with `hvtrace record --deterministic`
/// and checks what issue 6 promises of the trace: nothing lost, every exit paired, and from each of
/// the two vCPUs stage-2 MMIO exits, HVC/PSCI calls, virtual-timer interrupts and WFI exits.
/// Skipped, with the reason, only when QEMU or the guest images are missing.
struct LinuxTraceTests {
    /// What one vCPU was seen doing.
    struct Seen: Equatable {
        var mmioExits = 0
        var hypercalls = 0
        var psciCalls = 0
        var virtualTimerInjections = 0
        var wfiExits = 0
    }

    @Test(
        .enabled(if: qemuPath != nil, "qemu-system-aarch64 not installed (apt-get install qemu-system-arm)"),
        .enabled(if: LinuxGuestTests.guestImagesPresent, "no cache/guests/linux images: run scripts/setup-guests.sh"),
        .timeLimit(.minutes(6))
    )
    func linuxBootTraceHasEveryExitKindFromBothVCPUs() throws {
        let output = NSTemporaryDirectory() + "hvtrace-linux-\(getpid()).hvt"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try HVTraceExecutable.record(guest: "linux", to: output, guestTimeout: 240)
        #expect(run.status == 0, "hvtrace record failed:\n\(run.output.suffix(3000))")
        #expect(run.output.contains("hvtrace-linux: workload done"))

        let stream = EventStream(source: try PageSource(path: output))
        // vCPU ids in records are VM index << 8 | vCPU index, the VM index counting from 0: the
        // only VM's vCPUs are 0 and 1 (keyed by the whole id, so another numbering fails below).
        var seen: [UInt16: Seen] = [:]
        var currentVCPU: [UInt16: UInt16] = [:]  // physical CPU -> vCPU in its open exit
        var openExitEC: [UInt16: UInt8] = [:]
        var entries = 0, returns = 0
        while let timed = try stream.next() {
            switch timed.event {
            case let .exitEntry(ec, _, vcpu):
                entries += 1
                currentVCPU[timed.cpu] = vcpu
                openExitEC[timed.cpu] = ec
                if ec == ExceptionClass.wfx.rawValue { seen[vcpu, default: Seen()].wfiExits += 1 }
            case .exitReturn:
                returns += 1
                openExitEC[timed.cpu] = nil
            case .mmioAccess:
                if let vcpu = currentVCPU[timed.cpu], openExitEC[timed.cpu] == ExceptionClass.dataAbortLower.rawValue {
                    seen[vcpu, default: Seen()].mmioExits += 1
                }
            case let .hypercall(_, _, functionID):
                guard let vcpu = currentVCPU[timed.cpu] else { break }
                seen[vcpu, default: Seen()].hypercalls += 1
                // PSCI: SMCCC owner 4 (standard secure service), fast calls 0x84xx_xxxx / 0xC4xx_xxxx.
                if (functionID >> 24) & 0x3F == 0x04 { seen[vcpu, default: Seen()].psciCalls += 1 }
            case let .virtualIRQ(intid, vcpu) where intid == 27:
                seen[vcpu, default: Seen()].virtualTimerInjections += 1
            default:
                break
            }
        }
        let diagnostics = stream.diagnostics
        #expect(!diagnostics.hasErrors, "decode problems:\n\(diagnostics.rendered())")
        #expect(diagnostics.reported.isEmpty, "the trace is not clean:\n\(diagnostics.rendered())")
        #expect(entries > 1000)
        // Every exit returns except those still open when the guest powered off: the SYSTEM_OFF call
        // itself and, on the other CPU, at most one exit in progress.
        let openAtEnd = openExitEC.count
        #expect(entries == returns + openAtEnd, "unpaired exits: \(entries) entries, \(returns) returns, \(openAtEnd) open at the end")
        #expect(openAtEnd <= 2)
        #expect(Set(seen.keys).isSubset(of: [0, 1]), "vCPU ids other than VM 0's vCPUs 0 and 1: \(seen.keys.sorted())")
        #expect(seen.values.reduce(0) { $0 + $1.psciCalls } > 0, "no PSCI call in the whole boot")
        for vcpu: UInt16 in [0, 1] {
            let vcpuSeen = seen[vcpu] ?? Seen()
            #expect(vcpuSeen.mmioExits > 0, "vCPU \(vcpu): no stage-2 MMIO exits (\(vcpuSeen))")
            #expect(vcpuSeen.hypercalls > 0, "vCPU \(vcpu): no HVC calls (\(vcpuSeen))")
            #expect(vcpuSeen.virtualTimerInjections > 0, "vCPU \(vcpu): no virtual timer interrupts (\(vcpuSeen))")
            #expect(vcpuSeen.wfiExits > 0, "vCPU \(vcpu): no WFI exits (\(vcpuSeen))")
        }
    }
}

/// The `hvtrace` executable beside the running test bundle (`.build/<config>/`), else debug's.
enum HVTraceExecutable {
    static let path: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("hvtrace").path
        if FileManager.default.isExecutableFile(atPath: beside) { return beside }
        return repositoryRoot + "/.build/debug/hvtrace"
    }()

    /// `hvtrace record --guest GUEST --deterministic --quiet` into `output`, the guest stopped after
    /// `guestTimeout` seconds and the whole command killed a minute later.
    static func record(guest: String, to output: String, guestTimeout: Int) throws -> (status: Int32, output: String) {
        try runProcess(path, ["record", "--guest", guest, "--deterministic", "--quiet", "--timeout", String(guestTimeout),
                              "--root", repositoryRoot, "-o", output],
                       timeout: Double(guestTimeout + 60))
    }
}
