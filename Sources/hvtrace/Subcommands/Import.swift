import ArgumentParser
import HVTrace

/// `hvtrace import FILE`: another tracer's capture (Linux ftrace, trace-cmd) as an .hvt file.
struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import KVM's ftrace events (Linux ftrace or trace-cmd report text) into an .hvt file.",
        discussion: """
            Reads the trace or trace_pipe file of tracefs (any trace_clock; options/raw with --event-ids) \
            or `trace-cmd report` output (with or without -t) and writes an .hvt file that report, flame, \
            compare and dump read like a recording of ours: kvm_exit opens an exit with the reason from \
            the EC (and the guest PC), that thread's next kvm_entry returns, so KVM's exit latency is \
            kvm_exit to kvm_entry of the vCPU thread; kvm_hvc_arm64, kvm_mmio, kvm_guest_fault, \
            kvm_wfx_arm64, kvm_vcpu_wakeup, kvm_userspace_exit, kvm_handle_sys_reg / kvm_sys_access and \
            vgic_update_irq_pending become hypercall, mmio, stage2_fault, wfx, spans and virq events. \
            Each vCPU thread (the thread that issued KVM_RUN; `CPU n/KVM` names vCPU n) is one ring. \
            Lost-events lines become lost_events records. Lines it does not know are counted and listed; \
            a malformed line of a mapped event is an error naming its line and column (exit status 2).
            """)

    @Argument(help: "The ftrace or trace-cmd report text file.")
    var file: String

    @Option(name: .shortAndLong, help: ArgumentHelp("The .hvt file to write (default: FILE with .hvt instead of its extension).", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Ticks per second of integer timestamps (trace clocks counter, uptime, x86-tsc; default 1e9: nanoseconds, as options/raw prints).", valueName: "Hz"))
    var clockHz: UInt64 = 1_000_000_000

    @Option(help: ArgumentHelp("options/raw lines name events by id: NAME=ID,… or a file of `NAME ID` lines (from tracefs events/kvm/*/id).", valueName: "ids"))
    var eventIds: String?

    @Option(help: "zstd compression level of the .hvt file.")
    var level: Int32 = TraceFileWriter.defaultCompressionLevel

    func validate() throws {
        if clockHz == 0 { throw ValidationError("--clock-hz must be positive") }
    }

    /// FILE with its extension replaced by .hvt (kvm.trace → kvm.hvt, trace → trace.hvt).
    var outputPath: String {
        if let output { return output }
        let slash = file.lastIndex(of: "/").map { file.index(after: $0) } ?? file.startIndex
        if let dot = file[slash...].lastIndex(of: "."), dot > slash { return String(file[..<dot]) + ".hvt" }
        return file + ".hvt"
    }

    func run() throws {
        var options = FtraceImportOptions(input: file, output: outputPath)
        options.integerClockHz = clockHz
        options.compressionLevel = level
        let summary: FtraceImportSummary
        do {
            if let eventIds { options.eventNames = try FtraceImportOptions.parseEventIDs(eventIds) }
            summary = try FtraceImporter.run(options)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        print("imported \(file) (\(summary.sourceFormat), timestamps \(summary.timestampResolution)): \(summary.lines) lines, "
              + "\(summary.eventLines) events, \(summary.exits) exits of \(summary.vcpus.count) vCPU thread\(summary.vcpus.count == 1 ? "" : "s")")
        for vcpu in summary.vcpus {
            print("  ring \(vcpu.ring): vm\(vcpu.vm)/vcpu\(vcpu.index) = pid \(vcpu.pid) '\(vcpu.comm)'\(vcpu.tgid.map { " (tgid \($0))" } ?? "")")
        }
        print("wrote \(outputPath): \(summary.records) records, \(summary.fileBytes) bytes")
        printToStandardError(summary.diagnostics.rendered())
    }
}
