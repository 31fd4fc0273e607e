import ArgumentParser
import HVTrace

/// `hvtrace synth`: writes a synthetic trace with known latency distributions.
struct Synth: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a synthetic .hvt trace from known per-exit-reason latency distributions.",
        discussion: """
            Exits are recorded through the hypervisor's own ring producer and drained page by page,
            exactly as a real recording. The same options and seed always give the same file.
            Mix kinds: \(SyntheticExitKind.allCases.map(\.rawValue).joined(separator: ", ")).
            """
    )

    @Option(help: "Events to generate (at least).")
    var events = 100_000

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "CPUs (rings).")
    var cpus = 2

    @Option(help: ArgumentHelp("Exit kinds with weights, e.g. hvc=10,pl011=15,irq=30.", valueName: "kind=weight,…"))
    var mix: String?

    @Option(help: ArgumentHelp("Multiply exit kinds' latencies, e.g. hvc=1.2 (a known regression for compare).", valueName: "kind=factor,…"))
    var scale: String?

    @Option(help: "Pages per CPU ring.")
    var pagesPerCPU: UInt32 = 64

    @Option(help: "Page size in bytes (power of two, 256…65536).")
    var pageSize: UInt32 = 4096

    @Option(help: "Simulated nanoseconds between two drains; large values with few pages force loss.")
    var drainIntervalNs: UInt64 = 1_000_000

    @Option(help: "Flip one byte in every N-th drained page (0 = never).")
    var corruptEvery = 0

    @Option(help: "zstd compression level.")
    var level: Int32 = TraceFileWriter.defaultCompressionLevel

    @Option(help: "Stream bytes per zstd frame (64 KiB or more; the seek index lists each frame).")
    var frameBytes: Int = TraceFileWriter.defaultFrameTarget

    @Option(name: .shortAndLong, help: "Output .hvt file.")
    var output: String

    @Flag(help: "Print the ground truth summary (per reason count, total, p50/p99 in ticks).")
    var truth = false

    func validate() throws {
        if events < 1 { throw ValidationError("--events must be at least 1") }
        if cpus < 1 || cpus > 62 { throw ValidationError("--cpus must be 1…62") }
        if mix != nil && options.mix.isEmpty { throw ValidationError("--mix: expected kind=weight,… with kinds \(SyntheticExitKind.allCases.map(\.rawValue).joined(separator: ", "))") }
        if scale != nil && options.latencyScale.isEmpty { throw ValidationError("--scale: expected kind=factor,… (factor > 0) with kinds \(SyntheticExitKind.allCases.map(\.rawValue).joined(separator: ", "))") }
        if pageSize < 256 || pageSize > 65536 || pageSize & (pageSize - 1) != 0 { throw ValidationError("--page-size must be a power of two in 256…65536") }
        if pagesPerCPU < 2 { throw ValidationError("--pages-per-cpu must be at least 2") }
        if frameBytes < 1 << 16 { throw ValidationError("--frame-bytes must be at least 65536") }
        if corruptEvery < 0 { throw ValidationError("--corrupt-every must be 0 or more") }
    }

    var options: SyntheticTraceOptions {
        var options = SyntheticTraceOptions()
        options.events = events
        options.seed = seed
        options.cpus = cpus
        if let mix { options.mix = SyntheticTraceOptions.parseMix(mix) ?? [] }
        if let scale, let factors = SyntheticTraceOptions.parseMix(scale), factors.allSatisfy({ $0.1 > 0 }) {
            options.latencyScale = Dictionary(factors, uniquingKeysWith: { _, last in last })
        }
        options.pagesPerCPU = pagesPerCPU
        options.pageSize = pageSize
        options.drainIntervalNanoseconds = drainIntervalNs
        options.corruptEveryNthPage = corruptEvery
        options.compressionLevel = level
        options.frameTarget = frameBytes
        return options
    }

    func run() throws {
        let result: SyntheticGroundTruth
        do {
            result = try SyntheticTraceGenerator.generate(to: output, options: options)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let recorded = max(1, result.eventsRecorded)
        print("wrote \(output): \(result.eventsProduced) events (\(result.eventsLost) lost), \(result.pagesWritten) pages, "
              + "\(result.fileBytes) bytes")
        print("bytes/event: ring records \(ratio(result.recordBytes, recorded)), ring pages \(ratio(result.pagesWritten * UInt64(pageSize), recorded)), "
              + "stream \(ratio(result.streamBytes, recorded)), file \(ratio(result.fileBytes, recorded))")
        if truth {
            for (reason, stats) in result.reasons.sorted(by: { $0.key < $1.key }) {
                let sorted = stats.latencies.sorted()
                func percentile(_ p: Double) -> UInt64 { sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)] }
                print("\(reason): count \(stats.count) unmatched \(stats.unmatched) total \(stats.totalTicks) p50 \(percentile(0.5)) p99 \(percentile(0.99)) ticks")
            }
        }
    }

    private func ratio(_ numerator: UInt64, _ denominator: UInt64) -> String {
        let value = Double(numerator) / Double(denominator)
        return String(Double(Int(value * 1000)) / 1000)
    }
}
