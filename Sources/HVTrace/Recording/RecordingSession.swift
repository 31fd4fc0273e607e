// `hvtrace record` / `hvtrace run`: build the hypervisor, start QEMU on a shared RAM file, wait for
// the trace region, drain it live into the output, stop on power-off / Ctrl-C / timeout / crash,
// drain the rest and summarise. The RAM file and QEMU never outlive this function.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceFormat

/// What the .hvt file records about the run besides the pages.
public struct RecordingMetadata: Equatable, Sendable {
    public var guestName: String
    /// The hypervisor build id from the region header (high, low).
    public var buildIDHigh: UInt64
    public var buildIDLow: UInt64
    /// Wall-clock time when the region appeared, nanoseconds since the Unix epoch.
    public var hostTimeNanoseconds: UInt64
    /// Extra key/value pairs for the file header.
    public var extra: [MetadataEntry] = []

    public init(guestName: String, buildIDHigh: UInt64, buildIDLow: UInt64, hostTimeNanoseconds: UInt64 = wallClockNanoseconds(),
                qemuCommandLine: String, extra: [MetadataEntry] = []) {
        self.guestName = guestName
        self.buildIDHigh = buildIDHigh
        self.buildIDLow = buildIDLow
        self.hostTimeNanoseconds = hostTimeNanoseconds
        self.qemuCommandLine = qemuCommandLine
        self.extra = extra
    }
    /// The exact QEMU command line, shell-quoted.
    public var qemuCommandLine: String
}

/// CLOCK_REALTIME in nanoseconds since the Unix epoch.
public func wallClockNanoseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
}

/// A recording's destination: pages as they are drained, then `finish` once.
public protocol TraceOutput: TracePageSink {
    /// Completes the file with each ring's final state; returns the bytes written.
    mutating func finish(ringStates: [RingStateSnapshot]) throws -> UInt64
}

/// Writes the drained pages into an .hvt file through `TraceFileWriter` (zstd streaming). Nothing
/// appears under the final name unless `finish` succeeds.
public final class HVTFileOutput: TraceOutput {
    public let writer: TraceFileWriter

    /// Creates the writer with a header built from the region header and the run's metadata.
    public init(path: String, region: RegionHeader, metadata: RecordingMetadata,
                compressionLevel: Int32 = TraceFileWriter.defaultCompressionLevel) throws(TraceFileError) {
        let header = TraceFileHeader(
            region: region, guestName: metadata.guestName,
            buildID: hex16(metadata.buildIDHigh) + hex16(metadata.buildIDLow),
            hostTimeNanoseconds: metadata.hostTimeNanoseconds,
            qemuCommandLine: metadata.qemuCommandLine, extra: metadata.extra)
        writer = try TraceFileWriter(path: path, header: header, compressionLevel: compressionLevel)
    }

    /// Seconds between pushes of complete zstd blocks to disk, so a recorder that is killed leaves a
    /// file that decodes up to (at most) this long before the kill.
    public var flushInterval = 1.0
    private var lastFlush = MonotonicClock.now

    public func append(_ page: RingConsumer.Page) throws {
        try writer.writePage(page.bytes, cpu: UInt16(page.cpu), sequence: page.sequence)
        let now = MonotonicClock.now
        if now - lastFlush >= flushInterval {
            try writer.flush()
            lastFlush = now
        }
    }

    public func finish(ringStates: [RingStateSnapshot]) throws -> UInt64 {
        for state in ringStates { try writer.writeRingState(state) }
        try writer.close()
        return writer.fileBytes
    }
}

/// Everything `hvtrace record` / `run` can be told.
public struct RecordingOptions: Sendable {
    public var guest: GuestKind
    /// The guest kernel image (default: `GuestKind.defaultImage` under the repository root).
    public var image: String?
    /// The Linux initramfs (default: `GuestKind.defaultInitramfs`).
    public var initramfs: String?
    public var deterministic = false
    /// Asked of the hypervisor through `trace_mode=` in its boot arguments; nil leaves its default.
    public var mode: RingMode?
    /// Stop QEMU after this many seconds.
    public var timeout: Double?
    /// Leave the RAM file in /dev/shm for `hvtrace snapshot`.
    public var keepRAMFile = false
    /// Run `make -C hypervisor` first.
    public var buildHypervisor = true
    /// The repository root (holds hypervisor/ and cache/).
    public var repositoryRoot = "."
    /// Physical CPUs, vCPUs, guest and machine RAM (`--cpus`, `--vcpus`, `--memory`, `--machine-memory`).
    public var machine = MachineRequest()
    /// QEMU -smp (the machine's physical CPUs).
    public var cpuCount: Int {
        get { machine.physicalCPUs }
        set { machine.physicalCPUs = newValue }
    }
    /// The guest directly on QEMU, without the hypervisor (the baseline; nothing to record).
    public var direct = false
    /// Words for the Linux kernel's command line (`--guest-append`).
    public var guestCommandLine: [String] = []
    /// Linux's interactive busybox shell (`hvtrace.shell=1` on its command line).
    public var shell = false
    /// A DTB for a direct run (`-dtb`).
    public var deviceTree: String?
    /// QEMU words placed after all of ours (`hvtrace run … -- WORDS`).
    public var qemuExtraArguments: [String] = []
    /// The hypervisor's extra boot arguments (`--append`).
    public var extraBootArguments: [String] = []
    /// No progress line even on a terminal.
    public var quiet = false
    public var polling = PollingPolicy()
    /// Longest wait for the region header after QEMU starts (when no `timeout` is shorter).
    public var regionWaitSeconds = 60.0
    /// The QEMU binary (tests substitute a script that plays QEMU's part on the RAM file).
    public var qemuExecutable = "qemu-system-aarch64"
    /// Words passed before QEMU's arguments (for a wrapper: `hvtrace fake-qemu --`).
    public var qemuPrefixArguments: [String] = []
    /// QEMU's console (stdin /dev/null, stdout and stderr to this file) instead of the terminal:
    /// for `hvtrace top`, whose screen the guest's output must not overwrite.
    public var consoleLog: String?

    public init(guest: GuestKind) { self.guest = guest }
}

/// How a run ended and what it drained.
public struct RecordingResult {
    public var end: RecordingEnd
    public var consumer: RingConsumer?
    public var drainStatistics: DrainLoopStatistics?
    public var outputBytes: UInt64
    public var seconds: Double
    public var command: QEMUCommand
    public var ramFilePath: String

    /// 0 when the guest powered off or the user stopped the run, 124 on timeout, 1 when QEMU failed
    /// or the guest did not reach its own end (a refused boot, a hypervisor panic, a guest reset).
    public var exitCode: Int32 {
        switch end {
        case .guestPoweredOff, .interrupted, .producerFinished: return 0
        case .timedOut: return 124
        case .qemuEnded, .hypervisorStopped: return 1
        }
    }
}

/// Runs QEMU + hypervisor + guest and (when given an output) records the trace live.
public enum RecordingSession {
    /// Builds the QEMU command for `options` with its RAM file at `ramFilePath` (checks the files
    /// exist and the shape is one the hypervisor runs): `GuestLaunch.command`.
    public static func command(for options: RecordingOptions, ramFilePath: String) throws(RecordingError) -> QEMUCommand {
        try GuestLaunch.command(for: options, ramFilePath: ramFilePath)
    }

    /// Runs `make -C <root>/hypervisor`, its output on our stderr.
    public static func buildHypervisor(root: String) throws(RecordingError) {
        let make = try ChildProcess(executable: "make", arguments: ["-s", "-C", "\(root)/hypervisor"], stdoutToStderr: true)
        let ended = make.wait()
        guard ended == .exited(status: 0) else {
            let status: Int32
            switch ended {
            case let .exited(code): status = code
            case let .signaled(signal): status = 128 + signal
            }
            throw .hypervisorBuildFailed(directory: "\(root)/hypervisor", status: status)
        }
    }

    /// The whole run. `openOutput` is called once the region header is known (nil: run without
    /// recording). `observe`, when given, runs after every drain pass (a live view); returning
    /// false stops the run as Ctrl-C would.
    public static func run(
        _ options: RecordingOptions,
        openOutput: ((RegionHeader, RecordingMetadata) throws -> any TraceOutput)?,
        observe: ((RingConsumer) -> Bool)? = nil
    ) throws -> RecordingResult {
        if options.direct && openOutput != nil { throw RecordingError.launch(.optionNeedsHypervisor(option: "recording a trace")) }
        if options.buildHypervisor && !options.direct { try buildHypervisor(root: options.repositoryRoot) }
        // The command first (it checks the request and sizes the machine), then the RAM file of that size.
        var command = try command(for: options, ramFilePath: "")
        let ramFile = options.direct ? nil
            : try SharedRAMFile(size: Int(command.shape.machineRAMBytes), removeWhenDone: !options.keepRAMFile)
        defer { ramFile?.removeIfRequested() }
        if let ramFile { command.useRAMFile(ramFile.path) }

        StopSignals.reset()
        StopSignals.install()
        defer { StopSignals.uninstall() }
        let terminal = TerminalSettings()
        defer { terminal.restore() }

        let start = MonotonicClock.now
        let qemu = try ChildProcess(executable: command.executable, arguments: command.arguments, consoleLog: options.consoleLog)
        // QEMU never outlives us: whatever path leaves this function stops it first.
        defer { if qemu.poll() == nil { qemu.stop(grace: 5) } }

        /// Why to stop now, or nil to go on.
        func stopReason() -> RecordingEnd? {
            if let signal = StopSignals.received { return .interrupted(signal: signal) }
            if let ended = qemu.poll() {
                guard ended == .exited(status: 0) else { return .qemuEnded(ended) }
                // QEMU exits 0 on every SYSTEM_OFF: the hypervisor's end status says whose end it was.
                guard let ramFile else { return .guestPoweredOff }
                let state = ramFile.runEndState
                return state == .guestPoweredOff ? .guestPoweredOff : .hypervisorStopped(state)
            }
            if let timeout = options.timeout, MonotonicClock.now - start >= timeout { return .timedOut(seconds: timeout) }
            return nil
        }

        var result = RecordingResult(end: .producerFinished, consumer: nil, drainStatistics: nil, outputBytes: 0,
                                     seconds: 0, command: command, ramFilePath: ramFile?.path ?? "")
        guard let openOutput, let ram = ramFile else {
            // `run` without `--record`: the same machine, nothing drained.
            var end = stopReason()
            while end == nil {
                MonotonicClock.sleep(seconds: 0.02)
                end = stopReason()
            }
            result.end = try endRun(qemu: qemu, reason: end!)
            result.seconds = MonotonicClock.now - start
            return result
        }

        // Wait for the hypervisor to initialise the region.
        var interval = options.polling.minimumInterval
        var consumer: RingConsumer?
        var lastHeaderError: RecordingError?
        var firstMagicSeen: Double?
        while consumer == nil {
            if let end = stopReason() {
                let waited = MonotonicClock.now - start
                let ended = try endRun(qemu: qemu, reason: end)
                if let lastHeaderError { throw lastHeaderError }
                switch ended {
                case .interrupted:
                    result.end = ended
                    result.seconds = waited
                    return result
                case .timedOut, .producerFinished:
                    throw RecordingError.regionNeverAppeared(path: ram.path, offset: TraceRegion.ramFileOffset,
                                                             waitedSeconds: (waited * 10).rounded() / 10, qemuExited: false)
                case .guestPoweredOff, .qemuEnded, .hypervisorStopped:
                    throw RecordingError.regionNeverAppeared(path: ram.path, offset: TraceRegion.ramFileOffset,
                                                             waitedSeconds: (waited * 10).rounded() / 10, qemuExited: true)
                }
            }
            if MonotonicClock.now - start > options.regionWaitSeconds {
                qemu.stop(grace: 5)
                throw RecordingError.regionNeverAppeared(path: ram.path, offset: TraceRegion.ramFileOffset,
                                                         waitedSeconds: options.regionWaitSeconds, qemuExited: false)
            }
            if ram.regionMagicPresent {
                firstMagicSeen = firstMagicSeen ?? MonotonicClock.now
                do {
                    consumer = try RingConsumer(region: ram.region, length: ram.regionLength, owner: ram)
                } catch {
                    // The header may be half written; give the hypervisor 200 ms to finish it.
                    lastHeaderError = error
                    if MonotonicClock.now - firstMagicSeen! > 0.2 {
                        qemu.stop(grace: 5)
                        throw error
                    }
                }
            }
            if consumer == nil {
                MonotonicClock.sleep(seconds: interval)
                interval = min(interval * 2, options.polling.maximumInterval)
            }
        }
        // QEMU has the file mapped now: unlink it, so nothing is left in /dev/shm whatever happens next.
        ram.removeIfRequested()
        let region = consumer!
        if let wanted = options.mode, wanted != region.header.mode {
            writeToStandardError("hvtrace: warning: asked for \(wanted.name) mode, the hypervisor uses \(region.header.mode.name)\n")
        }

        let metadata = RecordingMetadata(
            guestName: options.guest.rawValue, buildIDHigh: region.header.buildIDHigh,
            buildIDLow: region.header.buildIDLow, qemuCommandLine: command.commandLine,
            extra: [MetadataEntry(key: "recorder", value: "hvtrace record"),
                    MetadataEntry(key: "deterministic", value: options.deterministic ? "yes" : "no")])
        var output = try openOutput(region.header, metadata)
        let drain = LiveDrain(consumer: region, policy: options.polling)
        var progress = ProgressLine(forced: options.quiet ? false : nil)
        var end: RecordingEnd?
        var observerStopped = false
        try drain.run(into: &output, until: {
            end = observerStopped ? .interrupted(signal: SIGINT) : stopReason()
            return end != nil
        }, progress: {
            progress.update($0.consumer)
            if let observe, !observe($0.consumer) { observerStopped = true }
        })
        result.end = try endRun(qemu: qemu, reason: end!)
        // The producer is gone: what is committed is final, and the open pages can be read safely.
        try drain.finish(into: &output, recoverOpenPages: true)
        result.outputBytes = try output.finish(ringStates: (0..<region.cpuCount).map { region.ringState(cpu: $0) })
        // The result outlives the RAM file mapping: keep the counters, let go of the mapping.
        region.detach()
        result.consumer = region
        result.drainStatistics = drain.statistics
        result.seconds = MonotonicClock.now - start
        return result
    }

    /// Makes sure QEMU has ended (SIGTERM, then SIGKILL after 5 s) and returns the final reason.
    private static func endRun(qemu: ChildProcess, reason: RecordingEnd) throws(RecordingError) -> RecordingEnd {
        switch reason {
        case .guestPoweredOff, .qemuEnded, .hypervisorStopped:
            return reason
        case .interrupted, .timedOut, .producerFinished:
            // Ctrl-C at the terminal reaches QEMU too; SIGTERM covers a signal sent to us alone.
            qemu.stop(grace: 5)
            return reason
        }
    }
}
