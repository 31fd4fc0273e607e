import ArgumentParser
import HVTrace

extension KVMVariant: ExpressibleByArgument {}
extension KVMWorkload: ExpressibleByArgument {}
extension FtraceCaptureFormat: ExpressibleByArgument {}
extension FtraceWindow: ExpressibleByArgument {}

/// `hvtrace kvm`: the KVM reference machine (issue 12).
struct KVM: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run our guests under real KVM (Debian's arm64 kernel at L1 on QEMU) and put the results beside ours.",
        subcommands: [KVMRun.self, KVMTable.self])
}

/// `hvtrace kvm run`: one run of the KVM reference machine.
struct KVMRun: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot the KVM reference machine and run one workload under KVM (hvtrace-vmm at L1).",
        discussion: """
            L1 is cache/guests/linux/Image booted at EL2 with cache/kvm/initramfs.cpio (scripts/setup-kvm.sh); \
            its console is printed here, the guest's output included. With --ftrace, ftrace's kvm events are \
            on at L1 during the run and the capture is written to --capture (feed it to `hvtrace import`).
            """)

    @Option(help: "What runs under KVM.")
    var workload: KVMWorkload = .probeCompare

    @Option(help: "nvhe (-cpu cortex-a72, the machine our hypervisor runs on) or vhe (-cpu max,pauth-impdef=on).")
    var variant: KVMVariant = .nvhe

    @Option(help: "The L2 guest's vGIC: 2 or 3 (3 makes L1's machine GICv3; the probe needs 2).")
    var gic = 2

    @Flag(help: "Enable ftrace's kvm events at L1 during the run.")
    var ftrace = false

    @Option(help: "How L1 prints the capture: trace (the trace file, microseconds), trace-pipe, trace-cmd (report -t, nanoseconds) or trace-cmd-us.")
    var format: FtraceCaptureFormat = .traceCmd

    @Option(help: ArgumentHelp("tracefs options to set (raw, record-tgid) or clear (noirq-info).", valueName: "option,…"))
    var traceOptions: String?

    @Option(help: "What ftrace keeps: all, or compare-ops (only the probe's measured operations).")
    var window: FtraceWindow = .all

    @Option(help: ArgumentHelp("Write the NAME=ID list of the enabled events to this file (for import --event-ids of options/raw captures).", valueName: "file"))
    var eventIdsFile: String?

    @Option(help: ArgumentHelp("Write the ftrace capture to this file.", valueName: "file"))
    var capture: String?

    @Option(help: ArgumentHelp("ftrace events to enable (default: those hvtrace import maps).", valueName: "subsystem:event,…"))
    var events: String?

    @Option(help: "ftrace trace_clock at L1.")
    var traceClock = "local"

    @Option(help: "ftrace buffer per CPU, KiB.")
    var bufferKb = 16384

    @Option(help: "Iterations per loop of the probe's compare mode (0: its default).")
    var iterations: UInt64 = 0

    @Option(help: ArgumentHelp("KVM's halt-polling window at L1 (default: the kernel's).", valueName: "ns"))
    var haltPollNs: UInt64?

    @Flag(help: "Free-running QEMU (default: deterministic, -icount shift=0,sleep=off).")
    var freeRunning = false

    @Option(help: ArgumentHelp("Stop QEMU after this many seconds.", valueName: "seconds"))
    var timeout: Double?

    @Option(help: ArgumentHelp("Repository root holding cache/ and hypervisor/.", valueName: "directory"))
    var root = "."

    @Flag(help: "Print the QEMU command and exit.")
    var dryRun = false

    @Option(help: "The QEMU binary.")
    var qemu = "qemu-system-aarch64"

    func validate() throws {
        if gic != 2 && gic != 3 { throw ValidationError("--gic is 2 or 3") }
        if gic == 3 && workload == .probeCompare { throw ValidationError("the probe's compare mode needs the GICv2 CPU interface (--gic 2)") }
        if (capture != nil || eventIdsFile != nil || traceOptions != nil || window != .all) && !ftrace {
            throw ValidationError("--capture, --event-ids-file, --trace-options and --window need --ftrace")
        }
        if window == .compareOperations && workload != .probeCompare { throw ValidationError("--window compare-ops is for the probe-compare workload") }
        if bufferKb < 4 { throw ValidationError("--buffer-kb must be at least 4") }
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    var options: KVMMachineOptions {
        var options = KVMMachineOptions()
        options.workload = workload
        options.variant = variant
        options.gicVersion = gic
        options.ftrace = ftrace
        options.captureFormat = format
        options.events = events
        options.traceClock = traceClock
        options.traceOptions = traceOptions.map { $0.split(separator: ",").map(String.init) } ?? []
        options.window = window
        options.bufferKilobytes = bufferKb
        options.printCapture = capture != nil
        options.iterations = iterations
        options.haltPollNanoseconds = haltPollNs
        options.deterministic = !freeRunning
        options.timeout = timeout
        options.repositoryRoot = root
        options.qemuExecutable = qemu
        return options
    }

    func run() throws {
        if dryRun {
            print(KVMMachineCommand(options).commandLine)
            return
        }
        let result: KVMRunResult
        do {
            result = try KVMMachineRun.run(options, capturePath: capture) { print($0) }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        var summary = "hvtrace: kvm run: \(workload.rawValue) under KVM (\(result.kvmMode ?? "unknown mode")), "
            + "workload status \(result.workloadStatus.map(String.init) ?? "none"), \(String(format2(result.seconds))) s wall"
        if let capture { summary += ", capture \(capture): \(result.captureLines) lines (\(result.captureFormat ?? "?"))" }
        if let eventIdsFile, let ids = result.eventIDs {
            do { try TraceAnalysis.write(ids + "\n", to: eventIdsFile) } catch {
                printError("\(eventIdsFile): \(error)")
                throw ExitCode(2)
            }
        }
        printToStandardError(summary)
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}

/// `value` with two decimals.
func format2(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    return "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
}
