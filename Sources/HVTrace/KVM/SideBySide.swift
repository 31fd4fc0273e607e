// The side-by-side table (issue 12): the probe's compare-mode lines and the Linux guest's marker
// times from console logs of our hypervisor and of the KVM reference machine, tracing off and on,
// as one table of operation, ours, KVM and their ratio. The marker strings come from their one
// definitions: hypervisor/guests/probe/protocol.txt and hypervisor/guests/linux/markers.txt.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `COMPARE-op:` line of the probe (format in hypervisor/guests/probe/Compare.swift).
public struct CompareOperationResult: Equatable, Sendable {
    public var name: String
    public var count: UInt64
    public var ticks: UInt64
    public var baseTicks: UInt64
    public var frequency: UInt64
    /// x0 (calls) or the value read back (device accesses).
    public var result: UInt64?
    public var mismatches: UInt64
    /// Shortest and longest sample (timer rows).
    public var minimumTicks: UInt64?
    public var maximumTicks: UInt64?
    public var ok: Bool

    /// Nanoseconds per operation: (ticks − base) / count at `frequency` (under -icount shift=0 also
    /// the L0 instructions per operation).
    public var nanosecondsPerOperation: Double {
        guard count > 0, frequency > 0 else { return 0 }
        return Double(ticks > baseTicks ? ticks - baseTicks : 0) / Double(count) * 1e9 / Double(frequency)
    }

    /// Parses the text after the marker (`op=… count=… … ok`); nil when a required field is missing.
    public init?(fields text: Substring) {
        var values: [Substring: Substring] = [:]
        var verdict: Substring = ""
        for word in text.split(separator: " ") {
            if let equals = word.firstIndex(of: "=") {
                values[word[..<equals]] = word[word.index(after: equals)...]
            } else {
                verdict = word
            }
        }
        func number(_ key: Substring) -> UInt64? {
            guard let text = values[key] else { return nil }
            return text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        }
        guard let name = values["op"], let count = number("count"), let ticks = number("ticks"),
              let base = number("base-ticks"), let frequency = number("freq"), let mismatches = number("mismatches") else {
            return nil
        }
        self.name = String(name)
        self.count = count
        self.ticks = ticks
        self.baseTicks = base
        self.frequency = frequency
        self.result = number("result")
        self.mismatches = mismatches
        self.minimumTicks = number("min")
        self.maximumTicks = number("max")
        self.ok = verdict == "ok"
    }
}

/// What one console log says: the probe's operations and the Linux guest's marker times.
public struct ConsoleMeasurements: Equatable, Sendable {
    public var operations: [String: CompareOperationResult] = [:]
    /// The compare mode's summary line was there with failures=0.
    public var compareCompleted = false
    /// printk timestamps (seconds) of the Linux guest's init and done markers (their kmsg copies).
    public var linuxInitSeconds: Double?
    public var linuxDoneSeconds: Double?

    public init() {}

    /// Reads `text` (a whole console log) with the markers of `markers`.
    public init(console text: String, markers: SideBySideMarkers) {
        // Console lines end in "\r\n" (one Character in Swift) or "\n".
        for line in text.split(whereSeparator: \.isNewline) {
            if let range = line.range(of: markers.compareOperation) {
                if let result = CompareOperationResult(fields: line[range.upperBound...]) { operations[result.name] = result }
            } else if let range = line.range(of: markers.compareDone) {
                compareCompleted = line[range.upperBound...].contains("failures=0")
            } else if line.contains(markers.linuxInit + " (kmsg)") {
                linuxInitSeconds = Self.printkSeconds(line)
            } else if line.contains(markers.linuxDone + " (kmsg)") {
                linuxDoneSeconds = Self.printkSeconds(line)
            }
        }
    }

    /// The `[    1.234567]` timestamp of a kernel-log line.
    static func printkSeconds(_ line: Substring) -> Double? {
        guard let open = line.firstIndex(of: "["), let close = line[open...].firstIndex(of: "]") else { return nil }
        return Double(line[line.index(after: open)..<close].trimmingCharacters(in: " "))
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var text = self
        while text.first == set { text = text.dropFirst() }
        while text.last == set { text = text.dropLast() }
        return text
    }
}

/// The marker strings the table reads, from their definitions in the repository.
public struct SideBySideMarkers: Sendable {
    public var compareOperation: String
    public var compareDone: String
    public var linuxInit: String
    public var linuxDone: String

    public init(compareOperation: String, compareDone: String, linuxInit: String, linuxDone: String) {
        self.compareOperation = compareOperation
        self.compareDone = compareDone
        self.linuxInit = linuxInit
        self.linuxDone = linuxDone
    }

    /// Reads protocol.txt (`string NAME TEXT`) and markers.txt (`NAME='value'`) under `root`.
    public init(repositoryRoot root: String) throws(KVMMachineError) {
        let protocolPath = "\(root)/hypervisor/guests/probe/protocol.txt"
        let linuxPath = "\(root)/hypervisor/guests/linux/markers.txt"
        guard let protocolText = readTextFile(protocolPath) else { throw .missingFile(path: protocolPath, hint: "the probe's protocol") }
        guard let linuxText = readTextFile(linuxPath) else { throw .missingFile(path: linuxPath, hint: "the Linux guest's markers") }
        var strings: [String: String] = [:]
        for line in protocolText.split(whereSeparator: \.isNewline) {
            let words = line.split(separator: " ", maxSplits: 2)
            if words.count == 3 && words[0] == "string" { strings[String(words[1])] = String(words[2]) }
        }
        var shell: [String: String] = [:]
        for line in linuxText.split(whereSeparator: \.isNewline) where !line.hasPrefix("#") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            shell[String(line[..<equals])] = String(line[line.index(after: equals)...].trimmingCharacters(in: Character("'")))
        }
        func need(_ table: [String: String], _ key: String, _ path: String) throws(KVMMachineError) -> String {
            guard let value = table[key] else { throw .badMarkers(path: path, missing: key) }
            return value
        }
        self.init(compareOperation: try need(strings, "markerCompareOp", protocolPath),
                  compareDone: try need(strings, "markerCompareDone", protocolPath),
                  linuxInit: try need(shell, "HVTRACE_LINUX_INIT_MARKER", linuxPath),
                  linuxDone: try need(shell, "HVTRACE_LINUX_DONE_MARKER", linuxPath))
    }
}

/// The table: rows of operation × (ours, KVM) × (tracing off, on).
public struct SideBySideTable: Sendable {
    /// The console logs of one side (ours or KVM), tracing off and on.
    public struct Side: Sendable {
        public var off: ConsoleMeasurements?
        public var on: ConsoleMeasurements?
        public init(off: ConsoleMeasurements?, on: ConsoleMeasurements?) {
            self.off = off
            self.on = on
        }
    }

    /// One row's definition: a probe operation or a Linux marker.
    struct RowKind: Sendable {
        var label: String
        var unit: String
        var value: @Sendable (ConsoleMeasurements) -> Double?
        var note: @Sendable (ConsoleMeasurements, ConsoleMeasurements) -> String?
    }

    public var ours: Side
    public var kvm: Side
    /// Printed under the table (what the columns mean, the machine).
    public var machine: String

    public init(ours: Side, kvm: Side, machine: String) {
        self.ours = ours
        self.kvm = kvm
        self.machine = machine
    }

    static func operation(_ name: String) -> @Sendable (ConsoleMeasurements) -> Double? {
        { measurements in measurements.operations[name].map(\.nanosecondsPerOperation) }
    }

    static let rows: [RowKind] = [
        RowKind(label: "SMCCC_VERSION by HVC (ours: general dispatch)", unit: "ns", value: operation("smccc-version-hvc"), note: { _, _ in nil }),
        RowKind(label: "PSCI_VERSION by HVC", unit: "ns", value: operation("psci-version-hvc"), note: { _, _ in nil }),
        RowKind(label: "PSCI_VERSION by SMC", unit: "ns", value: operation("psci-version-smc"), note: { ours, kvm in
            let a = ours.operations["psci-version-smc"]?.result, b = kvm.operations["psci-version-smc"]?.result
            guard let a, let b, a != b else { return nil }
            return "returns: ours \(returnName(a)), KVM \(returnName(b))"
        }),
        RowKind(label: "MMIO read, test device (ours: EL2; KVM: userspace VMM)", unit: "ns", value: operation("mmio-read"), note: { _, _ in nil }),
        RowKind(label: "MMIO write, test device (ours: EL2; KVM: userspace VMM)", unit: "ns", value: operation("mmio-write"), note: { _, _ in nil }),
        RowKind(label: "sysreg trap, ACTLR_EL1 read", unit: "ns", value: operation("sysreg-read"), note: { _, _ in nil }),
        RowKind(label: "timer IRQ to a vCPU in WFI (deadline to guest handler)", unit: "ns", value: operation("timer-irq"), note: { _, _ in nil }),
        RowKind(label: "WFI wake-up, IRQs masked (deadline to next instruction)", unit: "ns", value: operation("wfi-wake"), note: { _, _ in nil }),
        RowKind(label: "Linux boot to init marker (guest printk)", unit: "ms", value: { $0.linuxInitSeconds.map { $0 * 1000 } }, note: { _, _ in nil }),
        RowKind(label: "Linux boot to workload-done marker (guest printk)", unit: "ms", value: { $0.linuxDoneSeconds.map { $0 * 1000 } }, note: { _, _ in nil }),
    ]

    static func returnName(_ value: UInt64) -> String {
        let signed = Int64(bitPattern: value)
        if let name = HypercallNames.psciReturnName(signed), signed < 0 { return name }
        return hexLiteral(value)
    }

    /// A figure: nanoseconds with one decimal below 10 µs, whole numbers above; milliseconds with one.
    static func figure(_ value: Double?, unit: String) -> String {
        guard let value else { return "-" }
        if unit == "ms" { return fixed(value, decimals: 1) + " ms" }
        return value < 10_000 ? fixed(value, decimals: 1) : fixed(value, decimals: 0)
    }

    static func ratio(_ kvm: Double?, _ ours: Double?) -> String {
        guard let kvm, let ours, ours > 0 else { return "-" }
        return fixed(kvm / ours, decimals: 2) + "×"
    }

    static func fixed(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (value * scale).rounded()
        let whole = Int(scaled / scale)
        guard decimals > 0 else { return grouped(whole) }
        let fraction = Int(abs(scaled) - abs(Double(whole)) * scale)
        let fractionText = String(fraction)
        return grouped(whole) + "." + String(repeating: "0", count: max(0, decimals - fractionText.count)) + fractionText
    }

    /// Thousands separated by a thin space's plain cousin, a comma.
    static func grouped(_ value: Int) -> String {
        let digits = String(abs(value))
        var result = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
            result.append(digit)
        }
        return (value < 0 ? "-" : "") + result
    }

    /// The cells of every row: label, ours off, KVM off, ratio, ours on, KVM on, ratio, note.
    public var cells: [[String]] {
        Self.rows.map { row in
            func value(_ measurements: ConsoleMeasurements?) -> Double? { measurements.flatMap(row.value) }
            let oursOff = value(ours.off), kvmOff = value(kvm.off), oursOn = value(ours.on), kvmOn = value(kvm.on)
            var note = ""
            if let oursLog = ours.off ?? ours.on, let kvmLog = kvm.off ?? kvm.on { note = row.note(oursLog, kvmLog) ?? "" }
            return [row.label, Self.figure(oursOff, unit: row.unit), Self.figure(kvmOff, unit: row.unit), Self.ratio(kvmOff, oursOff),
                    Self.figure(oursOn, unit: row.unit), Self.figure(kvmOn, unit: row.unit), Self.ratio(kvmOn, oursOn), note]
        }
    }

    public static let header = ["operation", "ours", "KVM", "KVM/ours", "ours, traced", "KVM, traced", "KVM/ours", "note"]

    /// Markdown (for the README) or aligned text.
    public func rendered(markdown: Bool) -> String {
        let rows = cells
        let keep = rows.contains { !$0[7].isEmpty } ? 8 : 7
        let table = [Array(Self.header.prefix(keep))] + rows.map { Array($0.prefix(keep)) }
        var lines: [String] = []
        if markdown {
            for (index, row) in table.enumerated() {
                lines.append("| " + row.joined(separator: " | ") + " |")
                if index == 0 { lines.append("|" + row.indices.map { $0 == 0 || $0 == 7 ? " --- |" : " ---: |" }.joined()) }
            }
        } else {
            let widths = (0..<keep).map { column in table.map { $0[column].count }.max() ?? 0 }
            for row in table {
                var line = ""
                for column in 0..<keep {
                    let cell = row[column]
                    let pad = String(repeating: " ", count: widths[column] - cell.count)
                    line += column == 0 || column == 7 ? cell + pad : pad + cell
                    if column < keep - 1 { line += "  " }
                }
                lines.append(line.trimmingTrailingSpaces)
            }
        }
        lines.append("")
        lines.append(machine)
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}

extension SideBySideTable {
    /// What is wrong with the probe's rows: a log without the compare mode's summary, an operation
    /// missing or not `ok`. Empty when every probe figure is there and trustworthy.
    public var probeProblems: [String] {
        var problems: [String] = []
        let names = ["smccc-version-hvc", "psci-version-hvc", "psci-version-smc", "mmio-read", "mmio-write", "sysreg-read",
                     "timer-irq", "wfi-wake"]
        for (label, log) in [("ours, tracing off", ours.off), ("ours, tracing on", ours.on),
                             ("KVM, tracing off", kvm.off), ("KVM, tracing on", kvm.on)] {
            guard let log else { problems.append("\(label): no probe log"); continue }
            if !log.compareCompleted { problems.append("\(label): no 'failures=0' summary line") }
            for name in names {
                guard let operation = log.operations[name] else { problems.append("\(label): no \(name) line"); continue }
                if !operation.ok { problems.append("\(label): \(name) FAILED") }
            }
        }
        return problems
    }

    /// The console log names `scripts/kvm-side-by-side.sh` writes into its output directory:
    /// `SIDE-WORKLOAD-TRACING.console` with SIDE ours|kvm, WORKLOAD probe|linux, TRACING off|on.
    public static func logName(side: String, workload: String, traced: Bool) -> String {
        "\(side)-\(workload)-\(traced ? "on" : "off").console"
    }

    /// Reads every log of `directory` that exists (a missing one leaves its cells at "-").
    public static func load(directory: String, markers: SideBySideMarkers, machine: String) -> SideBySideTable {
        func measurements(_ side: String, traced: Bool) -> ConsoleMeasurements? {
            var merged: ConsoleMeasurements?
            for workload in ["probe", "linux"] {
                guard let text = readTextFile("\(directory)/\(logName(side: side, workload: workload, traced: traced))") else { continue }
                let read = ConsoleMeasurements(console: text, markers: markers)
                var combined = merged ?? ConsoleMeasurements()
                combined.operations.merge(read.operations) { _, new in new }
                combined.compareCompleted = combined.compareCompleted || read.compareCompleted
                combined.linuxInitSeconds = read.linuxInitSeconds ?? combined.linuxInitSeconds
                combined.linuxDoneSeconds = read.linuxDoneSeconds ?? combined.linuxDoneSeconds
                merged = combined
            }
            return merged
        }
        return SideBySideTable(ours: Side(off: measurements("ours", traced: false), on: measurements("ours", traced: true)),
                               kvm: Side(off: measurements("kvm", traced: false), on: measurements("kvm", traced: true)),
                               machine: machine)
    }
}
