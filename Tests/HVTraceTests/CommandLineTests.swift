import ArgumentParser
import Foundation
import Testing
@testable import hvtrace

/// Flag validation and input errors of the `hvtrace` subcommands.
struct CommandLineTests {
    @Test(arguments: [
        (["dump", "x.hvt", "--cpu", "1,a"], "--cpu takes CPU numbers separated by commas; 'a' is not one"),
        (["dump", "x.hvt", "--event", "exit_entry,bogus"], "--event: unknown event 'bogus'; known: exit_entry, exit_return, hypercall, hypercall_result, stage2_fault, mmio, irq, virq, wfx, sysreg, span_enter, span_leave, marker, lost_events, guest_pc"),
        (["dump", "x.hvt", "--limit=-1"], "--limit must be 0 or more, not -1"),
        (["synth", "-o", "x.hvt", "--cpus", "0"], "--cpus must be 1…62"),
        (["synth", "-o", "x.hvt", "--mix", "hvc=1,teleport=2"], "--mix: expected kind=weight,… with kinds hvc, pl011, gicd, irq, wfi, sysreg"),
        (["synth", "-o", "x.hvt", "--page-size", "1000"], "--page-size must be a power of two in 256…65536"),
    ])
    func badFlagsAreValidationErrors(arguments: [String], message: String) {
        do {
            _ = try HVTraceCommand.parseAsRoot(arguments)
            Issue.record("\(arguments) parsed")
        } catch {
            #expect(HVTraceCommand.message(for: error) == message)
            #expect(HVTraceCommand.exitCode(for: error) == .validationFailure)
        }
    }

    @Test func unreadableInputExitsWithCode2() throws {
        var command = try HVTraceCommand.parseAsRoot(["dump", "/nonexistent/trace.hvt"])
        #expect(throws: ExitCode(2)) { try command.run() }
    }

    @Test func synthThenDumpWorksEndToEnd() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hvtrace-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("t.hvt").path
        var synth = try HVTraceCommand.parseAsRoot(["synth", "--events", "500", "--seed", "4", "-o", path])
        try synth.run()
        #expect(FileManager.default.fileExists(atPath: path))
        var dump = try HVTraceCommand.parseAsRoot(["dump", path, "--limit", "5", "--event", "exit_entry"])
        try dump.run()
    }
}
