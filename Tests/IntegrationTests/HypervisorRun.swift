// Runs the hypervisor and a guest in QEMU with guest RAM in a shared file, and reads the trace
// region back out of that file after the run, the way `hvtrace snapshot` does. The machine shape
// is the fixed one (notes/common.md); deterministic runs add -icount shift=0,sleep=off.

import Foundation
import TraceFormat
import HVTrace

/// Where the repository is (this file is Tests/IntegrationTests/HypervisorRun.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// The QEMU binary, or nil when it is not installed (the tests are then skipped).
let qemuPath: String? = ["/usr/bin/qemu-system-aarch64", "/usr/local/bin/qemu-system-aarch64"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Why an integration step failed, with what to look at.
struct IntegrationFailure: Error, CustomStringConvertible {
    var description: String
}

/// Runs `executable` with `arguments`, returns (status, stdout+stderr). Killed after `timeout` seconds.
@discardableResult
func runProcess(_ executable: String, _ arguments: [String], timeout: Double,
                environment: [String: String] = [:], stopWhen: ((String) -> Bool)? = nil) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    // Output goes to a file (no pipe to keep drained); `stopWhen` reads it while QEMU runs.
    let logPath = NSTemporaryDirectory() + "hvtrace-it-\(getpid())-\(UInt32.random(in: 0 ... .max)).log"
    FileManager.default.createFile(atPath: logPath, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: logPath) }
    let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
    defer { try? log.close() }
    process.standardOutput = log
    process.standardError = log
    process.standardInput = FileHandle.nullDevice
    func collected() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8))?.replacingOccurrences(of: "\r", with: "") ?? ""
    }
    try process.run()
    let deadline = Date().addingTimeInterval(timeout)
    var timedOut = false
    // SIGKILL: Foundation starts children with signals blocked, so QEMU would not see SIGTERM.
    // The RAM file keeps what the guest and hypervisor wrote (a shared mapping).
    while process.isRunning {
        if Date() > deadline { kill(process.processIdentifier, SIGKILL); timedOut = true; break }
        if let stopWhen, stopWhen(collected()) {
            // Give the hypervisor a moment to finish its lines, then stop QEMU.
            Thread.sleep(forTimeInterval: 0.5)
            kill(process.processIdentifier, SIGKILL)
            break
        }
        Thread.sleep(forTimeInterval: 0.05)
    }
    process.waitUntilExit()
    let text = collected()
    if timedOut {
        throw IntegrationFailure(description: "\(executable) timed out after \(timeout) s; output:\n\(text)")
    }
    return (process.terminationStatus, text)
}

/// The environment of scripts that launch guests: the hvtrace they call is the one this test run
/// built (scripts/hvtrace-command.sh; a `swift build` of their own would wait on our build lock).
var scriptEnvironment: [String: String] { ["HVTRACE": HVTraceExecutable.path] }

/// Builds the hypervisor and the probe once per test process (`make -C hypervisor`).
let buildOnce: Result<Void, IntegrationFailure> = {
    do {
        let (status, output) = try runProcess("/usr/bin/make", ["-s", "-C", "\(repositoryRoot)/hypervisor", "all"],
                                              timeout: 600, environment: ["TRACE": "1"])
        return status == 0 ? .success(()) : .failure(IntegrationFailure(description: "make -C hypervisor failed:\n\(output)"))
    } catch {
        return .failure(IntegrationFailure(description: "make -C hypervisor: \(error)"))
    }
}()

/// One finished QEMU run: the console text and the trace region read from the RAM file.
struct HypervisorRun {
    var console: String
    var status: Int32
    var region: [UInt8]

    /// Boots `guest=GUEST` (a mode of the probe image) plus `bootArguments`; stops at power-off, or
    /// when `stopWhen` matches the console. `pinnedCPU`: QEMU runs on that host CPU only (taskset).
    static func probe(guest: String = "probe", bootArguments: [String] = [], deterministic: Bool = true,
                      timeout: Double = 240, pinnedCPU: Int? = nil,
                      stopWhen: ((String) -> Bool)? = nil) throws -> HypervisorRun {
        try buildOnce.get()
        guard let qemuPath else { throw IntegrationFailure(description: "qemu-system-aarch64 is not installed") }
        let ramFile = "/dev/shm/hvtrace-test-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        defer { try? FileManager.default.removeItem(atPath: ramFile) }
        // The one QEMU command line (Sources/HVTrace/Launch), with this test's own RAM file.
        guard let kind = GuestKind(rawValue: guest), kind.isProbe else {
            throw IntegrationFailure(description: "\(guest) is not a mode of the probe image")
        }
        let command = QEMUCommand(ramFilePath: ramFile, hypervisorELF: "\(repositoryRoot)/hypervisor/build/hv.elf", guest: kind,
                                  images: [LoadedImage(path: "\(repositoryRoot)/hypervisor/build/probe.bin", address: kind.imageAddress)],
                                  extraBootArguments: bootArguments, deterministic: deterministic)
        let (status, console) = try runPinned(qemuPath, command.arguments, cpu: pinnedCPU, timeout: timeout, stopWhen: stopWhen)
        guard let file = FileHandle(forReadingAtPath: ramFile) else {
            throw IntegrationFailure(description: "RAM file \(ramFile) missing after the run; console:\n\(console)")
        }
        defer { try? file.close() }
        try file.seek(toOffset: TraceRegion.ramFileOffset)
        let bytes = try file.read(upToCount: Int(TraceRegion.maximumSize)) ?? Data()
        return HypervisorRun(console: console, status: status, region: [UInt8](bytes))
    }

    /// The probe image run directly on QEMU (no hypervisor, the CPU starts at EL1) in probe mode
    /// `mode` (protocol.txt), which it reads from the word at `directModeWordIPA`. Free-running.
    static func directProbe(mode: UInt64, pinnedCPU: Int? = nil, timeout: Double = 60) throws -> HypervisorRun {
        try buildOnce.get()
        guard let qemuPath else { throw IntegrationFailure(description: "qemu-system-aarch64 is not installed") }
        let word = 0x4856_5452 << 32 | mode  // ProbeProtocol.modeMagic in [63:32]
        // The one QEMU command line, direct (no hypervisor), plus the mode word.
        var command = QEMUCommand(guest: .probe, shape: MachineShape(physicalCPUs: 1, vcpus: 1, guestRAMBytes: 1 << 30, machineRAMBytes: 1 << 30),
                                  boot: .direct(kernel: "\(repositoryRoot)/hypervisor/build/probe.elf", initrd: nil, deviceTree: nil, commandLine: nil))
        command.extraArguments = ["-device", "loader,addr=0x4007fff8,data=0x\(String(word, radix: 16)),data-len=8"]
        let (status, console) = try runPinned(qemuPath, command.arguments, cpu: pinnedCPU, timeout: timeout, stopWhen: nil)
        return HypervisorRun(console: console, status: status, region: [])
    }

    /// `runProcess`, under `taskset -c CPU` when `cpu` is given.
    private static func runPinned(_ executable: String, _ arguments: [String], cpu: Int?, timeout: Double,
                                  stopWhen: ((String) -> Bool)?) throws -> (status: Int32, output: String) {
        guard let cpu else { return try runProcess(executable, arguments, timeout: timeout, stopWhen: stopWhen) }
        return try runProcess("/usr/bin/taskset", ["-c", "\(cpu)", executable] + arguments, timeout: timeout,
                              stopWhen: stopWhen)
    }

    /// The first console line starting with `marker`, split into `key=value` fields.
    func fields(_ marker: String) throws -> [String: UInt64] {
        guard let line = console.split(separator: "\n").first(where: { $0.hasPrefix(marker) }) else {
            throw IntegrationFailure(description: "no line starting with \(marker) in the console:\n\(console)")
        }
        var result: [String: UInt64] = [:]
        for word in line.dropFirst(marker.count).split(separator: " ") {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = UInt64(parts[1]) { result[String(parts[0])] = value }
        }
        return result
    }
}

/// What the trace region holds, decoded ring by ring (per-CPU order), like `hvtrace snapshot`.
struct DecodedRegion {
    var header: RegionHeader
    /// Events per CPU, in ring order, with absolute timestamps.
    var events: [[TimedEvent]]
    /// Per CPU: the ring state's produced and lost counts.
    var produced: [UInt64]
    var lost: [UInt64]
    /// Events recovered from a page that was still open (flight recorder), per CPU.
    var openPageEvents: [Int]

    init(_ region: [UInt8]) throws {
        header = try region.withUnsafeBytes { raw throws(LayoutError) in
            try RegionHeader.load(from: raw.baseAddress!, length: raw.count)
        }
        events = []; produced = []; lost = []; openPageEvents = []
        let pageSize = Int(header.pageSize)
        for cpu in 0 ..< Int(header.cpuCount) {
            let state = RegionHeader.ringStateOffset(cpu: cpu)
            func u64(_ offset: Int) -> UInt64 {
                region.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
            }
            let producerSequence = u64(state + RingStateLayout.producerSequence)
            produced.append(u64(state + RingStateLayout.producedEvents))
            lost.append(u64(state + RingStateLayout.lostEvents))
            var cpuEvents: [TimedEvent] = []
            let first = producerSequence > UInt64(header.pagesPerCPU) ? producerSequence - UInt64(header.pagesPerCPU) : 0
            for sequence in first ..< producerSequence {
                let offset = header.pageOffset(cpu: cpu, sequence: sequence)
                try region.withUnsafeBytes { raw in
                    let page = UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + pageSize])
                    guard PageHeader.load(from: page.baseAddress!).sequence == sequence else {
                        throw IntegrationFailure(description: "cpu \(cpu) page \(sequence) at region offset \(offset) was overwritten")
                    }
                    var decoder = try PageDecoder(bytes: page, pageSize: pageSize, cpuCount: Int(header.cpuCount))
                    while let event = try decoder.next() { cpuEvents.append(event) }
                }
            }
            // A page still open (panic, or a run stopped early): records up to the first zero byte.
            let openSequence = u64(state + RingStateLayout.openSequence)
            var recovered = 0
            if openSequence == producerSequence {
                let offset = header.pageOffset(cpu: cpu, sequence: openSequence)
                try region.withUnsafeBytes { raw in
                    let page = UnsafeRawBufferPointer(rebasing: raw[offset ..< offset + pageSize])
                    let pageHeader = PageHeader.load(from: page.baseAddress!)
                    guard pageHeader.sequence == PageHeader.openMarker else { return }
                    var records = RecordDecoder(base: page.baseAddress! + PageHeaderLayout.size,
                                                length: pageSize - PageHeaderLayout.size)
                    var clock = pageHeader.timestamp
                    while let record = try records.next() {
                        clock &+= record.delta
                        cpuEvents.append(TimedEvent(timestamp: clock, cpu: UInt16(cpu), event: record.event))
                        recovered += 1
                    }
                }
            }
            events.append(cpuEvents)
            openPageEvents.append(recovered)
        }
    }

    /// Every event as one text line per event (`cpu timestamp event`), for exact comparisons.
    var dump: String {
        events.flatMap { $0 }.map { "\($0.cpu) \($0.timestamp) \($0.event)" }.joined(separator: "\n")
    }

    /// Events that are not bookkeeping (`lostEvents` records).
    var producedRecordCount: Int {
        events.flatMap { $0 }.filter { if case .lostEvents = $0.event { false } else { true } }.count
    }
}
