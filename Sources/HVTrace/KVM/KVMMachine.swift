// The KVM reference machine (issue 12): Debian's arm64 kernel booted at EL2 on QEMU (L1, KVM built
// in) with an initramfs holding our VMM and our guests (L2). `scripts/setup-kvm.sh` builds it into
// cache/kvm; this file is the one definition of the QEMU command that runs it and of the L1 /init's
// options (hypervisor/guests/kvm/init reads them from the kernel command line).

/// Which way KVM runs at L1 (Arm ARM D1.2 "Exception levels"; Linux's
/// Documentation/virt/kvm/arm/hyp-abi.rst): split between EL2 and EL1, or the whole kernel at EL2.
public enum KVMVariant: String, CaseIterable, Sendable {
    /// nVHE on `-cpu cortex-a72` (no FEAT_VHE): the machine our own hypervisor runs on.
    case nvhe
    /// VHE on `-cpu max,pauth-impdef=on` (FEAT_VHE; the cheap pointer-authentication algorithm,
    /// which keeps QEMU's wall time close to cortex-a72's).
    case vhe

    /// QEMU's `-cpu`.
    public var cpuModel: String { self == .nvhe ? "cortex-a72" : "max,pauth-impdef=on" }
}

/// What L1's /init runs under hvtrace-vmm.
public enum KVMWorkload: String, CaseIterable, Sendable {
    /// probe.bin in compare mode (guests/probe/Compare.swift).
    case probeCompare = "probe-compare"
    /// The Linux guest (Image + initramfs), 2 vCPUs, 256 MiB, to its workload-done marker.
    case linux
}

/// How the L1 /init prints its ftrace capture.
public enum FtraceCaptureFormat: String, CaseIterable, Sendable {
    /// `cat /sys/kernel/tracing/trace`: microsecond timestamps.
    case trace
    /// `trace_pipe`, read after the run (lost-events lines where the buffer wrapped).
    case tracePipe = "trace-pipe"
    /// `trace-cmd extract` then `trace-cmd report -t`: nanosecond timestamps.
    case traceCmd = "trace-cmd"
    /// `trace-cmd extract` then `trace-cmd report`: microseconds.
    case traceCmdMicroseconds = "trace-cmd-us"
}

/// Which part of the run ftrace keeps.
public enum FtraceWindow: String, CaseIterable, Sendable {
    /// The whole run.
    case all
    /// The probe's compare-mode operations only: tracing on at the first SMCCC_VERSION call, off at
    /// the next console access (the results are printed after all operations ran).
    case compareOperations = "compare-ops"
}

/// Everything `hvtrace kvm run` can be told.
public struct KVMMachineOptions: Sendable {
    public var workload: KVMWorkload = .probeCompare
    public var variant: KVMVariant = .nvhe
    /// The L2 vGIC hvtrace-vmm creates (2 or 3); 3 needs a GICv3 host (`gic-version=3`).
    public var gicVersion = 2
    /// ftrace's kvm events on during the run.
    public var ftrace = false
    public var captureFormat: FtraceCaptureFormat = .traceCmd
    /// Comma-separated `subsystem:event` list; nil: the events `hvtrace import` maps.
    public var events: String?
    /// ftrace's `trace_clock`.
    public var traceClock = "local"
    /// tracefs options to set (`raw`) or clear (`noirq-info`).
    public var traceOptions: [String] = []
    public var window: FtraceWindow = .all
    /// ftrace buffer per CPU.
    public var bufferKilobytes = 16384
    /// Print the capture (off: only the timing of a traced run is wanted).
    public var printCapture = true
    /// Iterations per loop of the probe's compare mode (0 = its default).
    public var iterations: UInt64 = 0
    /// KVM's halt-polling window (`/sys/module/kvm/parameters/halt_poll_ns`); nil leaves the kernel's.
    public var haltPollNanoseconds: UInt64?
    public var deterministic = true
    /// Stop QEMU after this many seconds.
    public var timeout: Double?
    /// The repository root (holds cache/ and hypervisor/).
    public var repositoryRoot = "."
    public var qemuExecutable = "qemu-system-aarch64"

    public init() {}

    /// The L1 kernel: the Linux guest's Image.
    public var kernelPath: String { "\(repositoryRoot)/cache/guests/linux/Image" }
    /// L1's initramfs (scripts/setup-kvm.sh).
    public var initramfsPath: String { "\(repositoryRoot)/cache/kvm/initramfs.cpio" }
    /// The marker definitions (shared with L1's /init).
    public var markersPath: String { "\(repositoryRoot)/hypervisor/guests/kvm/markers.txt" }
}

/// The QEMU command of one KVM reference machine run.
public struct KVMMachineCommand: Equatable, Sendable {
    public var executable: String
    public var arguments: [String]

    /// L1's machine: the virt board with EL2 (virtualization=on), the variant's CPU, 2 CPUs, 1 GiB,
    /// GICv2 (v3 when the L2 vGIC is v3); the kernel command line carries the /init options.
    public init(_ options: KVMMachineOptions) {
        var machine = "virt,virtualization=on,gic-version=\(options.gicVersion == 3 ? 3 : 2)"
        if options.deterministic { machine += "," + QEMUCommand.deterministicMachineOption }
        // randomize_kstack_offset=off: QEMU's virt gives no entropy source, and deterministic runs
        // (dtb-randomness=off) no rng-seed either, so L1's CRNG is never seeded and the per-syscall
        // stack-offset randomisation takes the unseeded slow path: measured 9.5 µs of every KVM_RUN
        // round trip (an MMIO exit to the VMM: 14.6 µs with it, 5.1 µs without).
        var commandLine = ["console=ttyAMA0", "rdinit=/init", "loglevel=4", "randomize_kstack_offset=off",
                           "hvkvm.run=\(options.workload.rawValue)", "hvkvm.gic=v\(options.gicVersion == 3 ? 3 : 2)",
                           "hvkvm.ftrace=\(options.ftrace ? "on" : "off")"]
        if options.ftrace {
            commandLine += ["hvkvm.format=\(options.captureFormat.rawValue)", "hvkvm.clock=\(options.traceClock)",
                            "hvkvm.buffer_kb=\(options.bufferKilobytes)", "hvkvm.dump=\(options.printCapture ? 1 : 0)"]
            if let events = options.events { commandLine.append("hvkvm.events=\(events)") }
            if !options.traceOptions.isEmpty { commandLine.append("hvkvm.options=\(options.traceOptions.joined(separator: ","))") }
            if options.window != .all { commandLine.append("hvkvm.window=\(options.window.rawValue)") }
        }
        if options.iterations > 0 { commandLine.append("hvkvm.iterations=\(options.iterations)") }
        if let poll = options.haltPollNanoseconds { commandLine.append("hvkvm.halt_poll_ns=\(poll)") }
        var arguments = [
            "-M", machine,
            "-cpu", options.variant.cpuModel,
            "-smp", "2",
            "-m", "1G",
            "-nographic",
            "-no-reboot",
            "-kernel", options.kernelPath,
            "-initrd", options.initramfsPath,
            "-append", commandLine.joined(separator: " "),
        ]
        if options.deterministic { arguments += QEMUCommand.deterministicArguments }
        executable = options.qemuExecutable
        self.arguments = arguments
    }

    /// The command line as one shell-quoted string.
    public var commandLine: String { ([executable] + arguments).map(shellQuoted).joined(separator: " ") }
}

/// The marker lines of L1's /init, read from hypervisor/guests/kvm/markers.txt (their one definition).
public struct KVMMarkers: Sendable {
    public var ready: String
    public var unavailable: String
    public var run: String
    public var runEnd: String
    public var eventIDs: String
    public var ftraceBegin: String
    public var ftraceEnd: String
    public var done: String

    /// Parses `NAME='value'` lines; every marker this type has must be there.
    public init(contentsOf path: String) throws(KVMMachineError) {
        guard let text = readTextFile(path) else { throw .missingFile(path: path, hint: "the repository's hypervisor/guests/kvm/markers.txt") }
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = String(line[..<equals])
            var value = line[line.index(after: equals)...]
            if value.hasPrefix("'") && value.hasSuffix("'") && value.count >= 2 { value = value.dropFirst().dropLast() }
            values[name] = String(value)
        }
        func marker(_ name: String) throws(KVMMachineError) -> String {
            guard let value = values[name], !value.isEmpty else { throw .badMarkers(path: path, missing: name) }
            return value
        }
        ready = try marker("HVKVM_READY_MARKER")
        unavailable = try marker("HVKVM_UNAVAILABLE_MARKER")
        run = try marker("HVKVM_RUN_MARKER")
        runEnd = try marker("HVKVM_RUN_END_MARKER")
        eventIDs = try marker("HVKVM_EVENT_IDS_MARKER")
        ftraceBegin = try marker("HVKVM_FTRACE_BEGIN_MARKER")
        ftraceEnd = try marker("HVKVM_FTRACE_END_MARKER")
        done = try marker("HVKVM_DONE_MARKER")
    }
}

/// Why a KVM reference machine run could not start or did not complete.
public enum KVMMachineError: Error, Equatable, CustomStringConvertible {
    /// A file the run needs is not there.
    case missingFile(path: String, hint: String)
    /// markers.txt lacks a marker.
    case badMarkers(path: String, missing: String)
    /// QEMU could not be started.
    case launchFailed(executable: String, errno: Int32)
    /// The capture file could not be written.
    case captureNotWritable(path: String, errno: Int32)
    /// L1 came up without KVM.
    case kvmUnavailable(reason: String)
    /// QEMU ended before L1's /init said it was done.
    case endedEarly(termination: String, lastLines: [String])
    case timedOut(seconds: Double)

    public var description: String {
        switch self {
        case let .missingFile(path, hint): return "\(path): missing (\(hint))"
        case let .badMarkers(path, missing): return "\(path): no \(missing) line"
        case let .launchFailed(executable, errno): return "cannot start \(executable): \(String(cString: strerror(errno)))"
        case let .captureNotWritable(path, errno): return "\(path): cannot write the capture: \(String(cString: strerror(errno)))"
        case let .kvmUnavailable(reason): return "the L1 kernel has no usable KVM: \(reason)"
        case let .endedEarly(termination, lastLines):
            return "QEMU \(termination) before the L1 init finished; last console lines: " + lastLines.joined(separator: " | ")
        case let .timedOut(seconds): return "stopped after \(seconds) s (--timeout)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The whole file as UTF-8 text, nil when it cannot be read.
func readTextFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&buffer, 1, buffer.count, file)
        if count == 0 { break }
        bytes.append(contentsOf: buffer[0..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}
