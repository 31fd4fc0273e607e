import ArgumentParser
import HVTrace

/// `hvtrace snapshot`: decode the flight recorder from a RAM file or memory dump.
struct Snapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode the trace region of a hung or crashed run from its RAM file or a QEMU memory dump.",
        discussion: """
            FILE is the shared RAM file a run left with --keep-ram-file, a raw RAM image (QEMU `pmemsave \
            0x40000000 0x40000000 FILE`), or an ELF core from `dump-guest-memory FILE` (detected by its \
            magic). Writes the committed pages not yet consumed plus each CPU's open page (flagged \
            uncommitted) and prints the last events.
            """
    )

    @Argument(help: "RAM file or memory dump.")
    var file: String

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the recovered pages to this .hvt file.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Byte offset of the trace region in a raw file (default 0x8000000: RAM starts at the file start).", valueName: "bytes"))
    var offset: String?

    @Flag(help: "Also re-read committed pages the live recording had already consumed (still in the ring).")
    var includeConsumed = false

    @Option(help: "How many of the last events to print.")
    var last = 20

    func run() throws {
        var layout: SnapshotLayout?
        if let offset {
            let text = offset.lowercased()
            let value = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
            guard let value else { throw ValidationError("--offset: expected a byte count (decimal or 0x…), got '\(offset)'") }
            layout = .raw(regionOffset: value)
        }
        let snapshot: FlightRecorderSnapshot
        var sink = CollectingPageSink()
        do {
            snapshot = try FlightRecorderSnapshot(path: file, layout: layout)
            try snapshot.decode(into: &sink, includeConsumed: includeConsumed)
        } catch let error as SnapshotError {
            printError(error.description)
            throw ExitCode(2)
        }
        let consumer = snapshot.consumer
        if let output {
            do {
                let metadata = RecordingMetadata(
                    guestName: "", buildIDHigh: consumer.header.buildIDHigh, buildIDLow: consumer.header.buildIDLow,
                    qemuCommandLine: "",
                    extra: [MetadataEntry(key: "recorder", value: "hvtrace snapshot"),
                            MetadataEntry(key: "snapshot_source", value: file),
                            MetadataEntry(key: "snapshot_region_offset", value: String(snapshot.regionOffset))])
                let writer = try HVTFileOutput(path: output, region: consumer.header, metadata: metadata)
                for page in sink.pages {
                    try page.bytes.withUnsafeBytes { bytes in
                        try writer.writer.writePage(bytes, cpu: UInt16(page.cpu), sequence: page.sequence)
                    }
                }
                _ = try writer.finish(ringStates: (0..<consumer.cpuCount).map { consumer.ringState(cpu: $0) })
            } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
        }
        print(RecordingSummary.render(consumer, end: nil, output: output, seconds: nil, snapshot: true))
        for cpu in 0..<consumer.cpuCount {
            let state = consumer.ringState(cpu: cpu)
            print("  cpu\(cpu): producer sequence \(state.producerSequence), host had consumed \(state.consumerSequence), "
                  + "open page \(state.openSequence)")
        }
        let lines = lastEventLines(sink.pages, header: consumer.header, count: last)
        print("last \(lines.count) events (timestamp in \(consumer.header.clockSource.name) ticks):")
        lines.forEach { print($0) }
    }
}
