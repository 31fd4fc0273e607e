// `hvtrace import`: Linux ftrace text (the `trace` and `trace_pipe` files, any trace_clock, with or
// without options/raw) and `trace-cmd report` text → an .hvt file every analysis reads. Two passes
// over the file, each a line at a time (memory stays flat): the first checks every line, finds the
// vCPU threads and counts everything the diagnostics say; the second writes the events through
// the hypervisor's own ring producer, drained page by page into the .hvt file, exactly as a live
// recording or `hvtrace synth` writes them.

#if canImport(Foundation)
import Foundation
#endif

/// What to import and how.
public struct FtraceImportOptions: Sendable {
    public var input: String
    public var output: String
    /// Ticks per second of integer timestamps (trace clocks that are not in nanoseconds, such as
    /// `counter` or `uptime`, and options/raw whose timestamps are nanoseconds): default 1 GHz.
    public var integerClockHz: UInt64 = 1_000_000_000
    /// options/raw lines carry an event type id instead of a name: id → name (events/*/*/id).
    public var eventNames: [UInt32: String] = [:]
    public var compressionLevel: Int32 = TraceFileWriter.defaultCompressionLevel

    public init(input: String, output: String) {
        self.input = input
        self.output = output
    }

    /// Parses `--event-ids`: `NAME=ID,…`, or a file of `NAME ID` lines (`subsystem:name` accepted).
    public static func parseEventIDs(_ text: String) throws(ImportError) -> [UInt32: String] {
        var source = text
        #if canImport(Foundation)
        if !text.contains("="), let contents = try? String(contentsOfFile: text, encoding: .utf8) { source = contents }
        #endif
        var names: [UInt32: String] = [:]
        for item in source.split(whereSeparator: { $0 == "," || $0.isNewline }) where !item.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = item.split(whereSeparator: { $0 == "=" || $0 == " " || $0 == "\t" })
            guard parts.count == 2, let id = UInt32(parts[1]) else {
                throw ImportError(path: text, reason: .badEventIDs(detail: "cannot read '\(item)'"))
            }
            let name = parts[0].split(separator: ":").last.map(String.init) ?? String(parts[0])
            names[id] = name
        }
        guard !names.isEmpty else { throw ImportError(path: text, reason: .badEventIDs(detail: "no NAME=ID pair")) }
        return names
    }
}

/// What an import found and wrote.
public struct FtraceImportSummary: Sendable {
    public var lines = 0
    public var eventLines = 0
    public var exits: UInt64 = 0
    /// Records written into the rings (lost_events records excluded).
    public var records: UInt64 = 0
    public var vcpus: [ImportedVCPU] = []
    public var diagnostics = ImportDiagnostics()
    /// `ftrace trace`, `ftrace trace_pipe`, `trace-cmd report`, `ftrace options/raw`.
    public var sourceFormat = ""
    /// The timestamps' resolution as printed (`1 us`, `1 ns`, …).
    public var timestampResolution = ""
    public var fileBytes: UInt64 = 0
    /// CPUs the capture says it had (#P: / cpus=), when it says.
    public var sourceCPUs: Int?
}

/// Pass 1's sink: nothing is written.
struct DiscardingSink: ImportedEventSink {
    mutating func record(_ event: TraceEvent, vcpu: VCPUKey, timestamp: UInt64) {}
    mutating func lost(_ count: UInt64, vcpu: VCPUKey, timestamp: UInt64) {}
}

/// Pass 2's sink: one ring producer per vCPU in a region in memory, drained into the file.
final class RingSink: ImportedEventSink {
    let region: UnsafeMutableRawPointer
    let layout: RegionHeader
    var producers: [RingProducer<HostRingPlatform>]
    let drainer: RegionDrainer
    let writer: TraceFileWriter
    let ringOf: [VCPUKey: Int]
    let writeWatermarks: Bool
    private var sinceDrain = 0
    private(set) var latest: UInt64 = 0
    var failure: TraceFileError?

    init(layout: RegionHeader, writer: TraceFileWriter, ringOf: [VCPUKey: Int], writeWatermarks: Bool) {
        self.layout = layout
        self.writer = writer
        self.ringOf = ringOf
        self.writeWatermarks = writeWatermarks
        let memory = UnsafeMutableRawPointer.allocate(byteCount: Int(layout.regionSize), alignment: 4096)
        initializeTraceRegion(layout, at: memory)
        region = memory
        producers = (0..<Int(layout.cpuCount)).map { RingProducer(region: memory, layout: layout, cpu: $0) }
        drainer = RegionDrainer(region: memory, layout: layout)
    }

    deinit { region.deallocate() }

    func record(_ event: TraceEvent, vcpu: VCPUKey, timestamp: UInt64) {
        guard let ring = ringOf[vcpu] else { return }
        HostRingPlatform.setCounter(timestamp)
        producers[ring].record(event, timestamp: timestamp)
        latest = max(latest, timestamp)
        sinceDrain += 1
        // A record is at most 32 bytes, so 256 of them fill at most two 4 KiB pages per ring:
        // draining this often keeps every ring far from full (64 pages).
        if sinceDrain >= 256 { drain() }
    }

    func lost(_ count: UInt64, vcpu: VCPUKey, timestamp: UInt64) {
        guard let ring = ringOf[vcpu] else { return }
        // lost_events is the first record of a page (FORMAT.md §3): commit the open one first.
        producers[ring].flush()
        HostRingPlatform.setCounter(timestamp)
        producers[ring].record(.lostEvents(count: count), timestamp: timestamp)
    }

    func drain() {
        sinceDrain = 0
        guard failure == nil else { return }
        do {
            try drainer.drain(into: writer)
            // The capture is in time order, so nothing later is stamped before the current line.
            if writeWatermarks { try writer.writeWatermark(drainer.watermark(now: latest)) }
        } catch {
            failure = error
        }
    }

    func finish() throws(TraceFileError) {
        for ring in producers.indices { producers[ring].flush() }
        drain()
        if let failure { throw failure }
        for state in drainer.ringStates() { try writer.writeRingState(state) }
        try writer.close()
    }
}

public enum FtraceImporter {
    /// Imports `options.input` into `options.output`. On any error nothing appears at the output path.
    public static func run(_ options: FtraceImportOptions) throws(ImportError) -> FtraceImportSummary {
        // Pass 1: check every line, find the vCPUs, count.
        let table = VCPUTable()
        var survey = Survey()
        var checker = ExitAssembler(sink: DiscardingSink(), table: table, diagnostics: ImportDiagnostics())
        try walk(options, survey: &survey, assembler: &checker)
        guard !table.order.isEmpty else { throw ImportError(path: options.input, reason: .noKVMEvents(lines: survey.lines)) }
        let vcpus = table.vcpus
        let ringLimit = RegionHeaderLayout.maximumCPUs(headerSize: 1 << 16)
        guard vcpus.count <= ringLimit else {
            throw ImportError(path: options.input, reason: .tooManyVCPUThreads(found: vcpus.count, limit: ringLimit))
        }
        var diagnostics = checker.diagnostics
        if survey.outOfOrderLines > 0 { diagnostics.count(.outOfOrderLines, survey.outOfOrderLines) }
        if survey.overwritten > 0 { diagnostics.count(.overwrittenEvents, survey.overwritten) }

        // Pass 2: the same events, written.
        var summary = FtraceImportSummary()
        summary.lines = survey.lines
        summary.eventLines = survey.eventLines
        summary.vcpus = vcpus
        summary.diagnostics = diagnostics
        summary.sourceFormat = survey.sourceFormat
        summary.timestampResolution = survey.resolution(integerClockHz: options.integerClockHz)
        summary.sourceCPUs = survey.sourceCPUs

        var headerSize = UInt32(RegionHeader.size)
        while Int(headerSize) < RegionHeaderLayout.ringStates + vcpus.count * RegionHeaderLayout.ringStateStride { headerSize *= 2 }
        var layout = RegionHeader(clockFrequency: 1_000_000_000, clockSource: .genericCounter, mode: .stopWhenFull,
                                  cpuCount: UInt16(vcpus.count), pageSize: TraceRegion.defaultPageSize, pagesPerCPU: 64,
                                  counterFrequency: 1_000_000_000)
        layout.headerSize = headerSize
        let header = TraceFileHeader(region: layout, guestName: "kvm", buildID: "",
                                     hostTimeNanoseconds: 0, qemuCommandLine: "",
                                     extra: metadata(options: options, summary: summary))
        let writer: TraceFileWriter
        do {
            writer = try TraceFileWriter(path: options.output, header: header, compressionLevel: options.compressionLevel)
        } catch {
            throw ImportError(path: options.output, reason: .output(message: error.description))
        }
        var rings: [VCPUKey: Int] = [:]
        for vcpu in vcpus { rings[VCPUKey(vm: vcpu.vm, index: vcpu.index)] = vcpu.ring }
        let sink = RingSink(layout: layout, writer: writer, ringOf: rings, writeWatermarks: survey.outOfOrderLines == 0)
        var writing = ExitAssembler(sink: sink, table: VCPUTable(), diagnostics: ImportDiagnostics())
        var second = Survey()
        do {
            try walk(options, survey: &second, assembler: &writing)
            try sink.finish()
        } catch let error as ImportError {
            writer.discard()
            throw error
        } catch let error as TraceFileError {
            writer.discard()
            throw ImportError(path: options.output, reason: .output(message: error.description))
        } catch {
            writer.discard()
            throw ImportError(path: options.output, reason: .output(message: "\(error)"))
        }
        summary.exits = writing.exits
        summary.records = writing.recordsWritten
        summary.fileBytes = writer.fileBytes
        return summary
    }

    /// The .hvt header's metadata: where the events came from, the vCPU of each ring, the diagnostics.
    static func metadata(options: FtraceImportOptions, summary: FtraceImportSummary) -> [MetadataEntry] {
        var entries = [
            MetadataEntry(key: "importer", value: "hvtrace import"),
            MetadataEntry(key: "source", value: options.input),
            MetadataEntry(key: "source_format", value: summary.sourceFormat),
            MetadataEntry(key: "timestamp_resolution", value: summary.timestampResolution),
            MetadataEntry(key: "rings", value: "one per vCPU thread (the thread that issued KVM_RUN); exit latency = kvm_exit to that thread's next kvm_entry"),
        ]
        if let cpus = summary.sourceCPUs { entries.append(MetadataEntry(key: "source_cpus", value: String(cpus))) }
        for vcpu in summary.vcpus {
            entries.append(MetadataEntry(key: "ring_\(vcpu.ring)",
                                         value: "pid \(vcpu.pid) '\(vcpu.comm)'\(vcpu.tgid.map { " tgid \($0)" } ?? "") vm\(vcpu.vm)/vcpu\(vcpu.index)"))
        }
        return entries + summary.diagnostics.metadata
    }

    /// Reads every line, classifies it, parses mapped events (a malformed one ends the import with
    /// its line and column) and hands each to the assembler.
    static func walk<Sink: ImportedEventSink>(_ options: FtraceImportOptions, survey: inout Survey,
                                              assembler: inout ExitAssembler<Sink>) throws(ImportError) {
        let reader = LineReader(path: options.input)
        try reader.forEachLine { (number: Int, line: UnsafeBufferPointer<UInt8>) throws(ImportError) in
            survey.lines = number
            switch FtraceLineParser.parse(line) {
            case let .event(event):
                survey.eventLines += 1
                let timestamp = survey.nanoseconds(event.timestamp, integerClockHz: options.integerClockHz)
                survey.ordered(timestamp)
                let parsed: KVMEvent?
                do throws(KVMFieldError) {
                    parsed = try KVMEventParser.parse(name: event.event, fields: event.fields)
                } catch {
                    throw ImportError(path: options.input, line: number, column: error.column,
                                      reason: .malformedEvent(event: event.event.text, expected: error.expected))
                }
                guard let parsed else {
                    assembler.diagnostics.unmapped(event.event.text)
                    return
                }
                assembler.apply(ParsedItem(event: parsed, pid: event.pid, comm: event.comm, tgid: event.tgid, cpu: event.cpu,
                                           timestamp: timestamp, line: number))
            case let .rawEvent(pid, cpu, stamp, type):
                survey.sawRaw = true
                survey.eventLines += 1
                let timestamp = survey.nanoseconds(stamp, integerClockHz: options.integerClockHz)
                survey.ordered(timestamp)
                guard let name = options.eventNames[type] else {
                    assembler.diagnostics.count(.rawLinesWithoutName)
                    return
                }
                // options/raw prints no fields: only exits and entries can be mapped (reason UNKNOWN).
                let event: KVMEvent
                switch name {
                case "kvm_exit": event = .exit(type: .trap, ec: nil, pc: nil)
                case "kvm_entry": event = .entry(pc: nil)
                default:
                    assembler.diagnostics.count(.rawEventsWithoutFields)
                    return
                }
                let comm = UnsafeBufferPointer<UInt8>(start: nil, count: 0)
                assembler.apply(ParsedItem(event: event, pid: pid, comm: comm, tgid: nil, cpu: cpu, timestamp: timestamp, line: number))
            case let .lost(cpu, count):
                survey.sawLostLine = true
                assembler.lost(count ?? 1, cpu: cpu)
            case let .entriesHeader(inBuffer, written, cpus):
                survey.sawTraceHeader = true
                if written > inBuffer {
                    survey.overwritten += written - inBuffer
                    assembler.pendingOverwritten += written - inBuffer
                }
                survey.sourceCPUs = cpus
            case let .traceCmdCPUs(cpus):
                survey.sawTraceCmd = true
                survey.sourceCPUs = cpus
            case .header:
                if line.count >= 8, UnsafeBufferPointer(rebasing: line[0..<8]).equals("# tracer") { survey.sawTraceHeader = true }
            case .blank:
                break
            case .unknown:
                assembler.diagnostics.unknownLine(number, line.text)
            }
        }
    }
}

/// One mapped event with its context, as the walk hands it on.
struct ParsedItem {
    var event: KVMEvent
    var pid: Int32
    var comm: UnsafeBufferPointer<UInt8>
    var tgid: Int32?
    var cpu: Int
    var timestamp: UInt64
    var line: Int
}

extension ExitAssembler {
    mutating func apply(_ item: ParsedItem) {
        handle(item.event, pid: item.pid, comm: item.comm, tgid: item.tgid, cpu: item.cpu, timestamp: item.timestamp, line: item.line)
    }
}

/// What a walk learns about the file as a whole.
struct Survey {
    var lines = 0
    var eventLines = 0
    var sawTraceHeader = false
    var sawTraceCmd = false
    var sawRaw = false
    var sawLostLine = false
    var sourceCPUs: Int?
    var overwritten: UInt64 = 0
    var outOfOrderLines: UInt64 = 0
    var lastTimestamp: UInt64 = 0
    /// Fraction digits seen: bit n set for n digits (0 = integer timestamps).
    var fractionDigitsSeen: UInt32 = 0

    mutating func nanoseconds(_ stamp: FtraceTimestamp, integerClockHz: UInt64) -> UInt64 {
        fractionDigitsSeen |= 1 << UInt32(stamp.fractionDigits)
        guard stamp.fractionDigits == 0 else { return stamp.value }
        guard integerClockHz != 1_000_000_000 else { return stamp.value }
        let (high, low) = stamp.value.multipliedFullWidth(by: 1_000_000_000)
        guard high < integerClockHz else { return .max }
        return integerClockHz.dividingFullWidth((high, low)).quotient
    }

    mutating func ordered(_ timestamp: UInt64) {
        if timestamp < lastTimestamp { outOfOrderLines += 1 } else { lastTimestamp = timestamp }
    }

    var sourceFormat: String {
        if sawRaw { return "ftrace options/raw" }
        if sawTraceCmd { return "trace-cmd report" }
        if sawTraceHeader { return "ftrace trace" }
        return sawLostLine ? "ftrace trace_pipe" : "ftrace trace_pipe (or trace without its header)"
    }

    func resolution(integerClockHz: UInt64) -> String {
        var parts: [String] = []
        if fractionDigitsSeen & (1 << 6) != 0 { parts.append("1 us (seconds with 6 decimals)") }
        if fractionDigitsSeen & (1 << 9) != 0 { parts.append("1 ns (seconds with 9 decimals)") }
        for digits in [1, 2, 3, 4, 5, 7, 8] where fractionDigitsSeen & (1 << UInt32(digits)) != 0 {
            parts.append("seconds with \(digits) decimals")
        }
        if fractionDigitsSeen & 1 != 0 { parts.append("integer ticks at \(integerClockHz) Hz") }
        return parts.isEmpty ? "none" : parts.joined(separator: ", ")
    }
}
