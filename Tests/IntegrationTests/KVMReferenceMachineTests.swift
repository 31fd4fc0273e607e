import Foundation
import HVTrace
import Testing

/// The KVM reference machine end to end (issue 12): L1 boots with KVM, runs the probe's compare mode
/// under hvtrace-vmm with ftrace on, and hands the capture over. Skipped without QEMU or without
/// the machine (scripts/setup-kvm.sh builds cache/kvm/initramfs.cpio).
@Suite(.serialized, .enabled(if: qemuPath != nil && FileManager.default.fileExists(atPath: "\(repositoryRoot)/cache/kvm/initramfs.cpio")))
struct KVMReferenceMachineTests {
    @Test("The probe's compare mode runs under KVM (nVHE), every operation ok, and ftrace's capture arrives")
    func probeUnderKVM() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-kvm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var options = KVMMachineOptions()
        options.repositoryRoot = repositoryRoot
        options.ftrace = true
        options.captureFormat = .trace
        options.iterations = 20
        options.timeout = 240
        let capture = directory.appendingPathComponent("kvm.trace").path
        var console: [String] = []
        let result = try KVMMachineRun.run(options, capturePath: capture) { console.append($0) }
        #expect(result.kvmMode == "nvhe")
        #expect(result.workloadStatus == 0)
        #expect(console.contains("COMPARE-done: operations=8 failures=0"), "console:\n\(console.joined(separator: "\n"))")
        #expect(console.filter { $0.hasPrefix("COMPARE-op:") && $0.hasSuffix(" ok") }.count == 8)
        let trace = try String(contentsOfFile: capture, encoding: .utf8)
        #expect(trace.hasPrefix("# tracer: nop"))
        // 20 SMCCC + 20 + 1 PSCI calls by HVC, their kvm_hvc_arm64 events, and the exits of the run.
        #expect(trace.components(separatedBy: "kvm_hvc_arm64: HVC at").count - 1 >= 41)
        #expect(result.captureLines == trace.split(separator: "\n", omittingEmptySubsequences: false).count - 1)
    }
}
