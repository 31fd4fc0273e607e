// The recording output of `hvtrace top`: every drained page is decoded into `LiveStatistics`
// straight away (and, with `-o`, also written to the .hvt file), with the same per-CPU pairing
// and discontinuity rules as the report.

import TraceFormat

/// A `TraceOutput` that pairs exits live, optionally teeing the pages into a file.
public final class LiveTraceOutput: TraceOutput {
    public private(set) var pairer: ExitPairer<LiveStatistics>
    let file: HVTFileOutput?
    let pageSize: Int
    let cpuCount: Int
    var nextSequence: [UInt64?]
    /// Per CPU: the open page already fed to the view by `catchUp`, and how many of its events.
    var peeked: [(sequence: UInt64, events: Int)?]
    /// Pages that failed to decode (counted; their exits are cut like a report cuts them).
    public private(set) var undecodablePages: UInt64 = 0

    public init(region: RegionHeader, file: HVTFileOutput?) {
        pairer = ExitPairer(sink: LiveStatistics(clockFrequency: region.clockFrequency), cpuCount: Int(region.cpuCount))
        self.file = file
        pageSize = Int(region.pageSize)
        cpuCount = Int(region.cpuCount)
        nextSequence = Array(repeating: nil, count: Int(region.cpuCount))
        peeked = Array(repeating: nil, count: Int(region.cpuCount))
    }

    public func append(_ page: RingConsumer.Page) throws {
        try file?.append(page)
        let cpu = page.cpu
        if cpu < nextSequence.count {
            if let expected = nextSequence[cpu], page.sequence != expected { pairer.noteDiscontinuity(cpu: cpu) }
            nextSequence[cpu] = page.sequence &+ 1
        }
        // Events `catchUp` already took from this page while it was open are not counted twice.
        var skip = 0
        if cpu < peeked.count, let peek = peeked[cpu] {
            if peek.sequence == page.sequence { skip = peek.events }
            peeked[cpu] = nil
        }
        do {
            var decoder = try PageDecoder(bytes: page.bytes, pageSize: pageSize, cpuCount: cpuCount)
            var run = pairer.beginRun(cpu: cpu)
            do {
                while let event = try decoder.next() {
                    if skip > 0 { skip -= 1; continue }
                    pairer.consume(event.event, timestamp: event.timestamp, in: &run)
                }
            } catch {
                undecodablePages &+= 1
                pairer.endRun(run)
                pairer.noteDiscontinuity(cpu: cpu)
                return
            }
            pairer.endRun(run)
        } catch {
            undecodablePages &+= 1
            pairer.noteDiscontinuity(cpu: cpu)
        }
    }

    public func finish(ringStates: [RingStateSnapshot]) throws -> UInt64 {
        pairer.finish()
        return try file?.finish(ringStates: ringStates) ?? 0
    }

    /// Feeds the view the events of each CPU's still-open page (an idle CPU fills a page slowly),
    /// except the last record, which may be half written. Only when every committed page of that
    /// CPU has been drained, so its events stay in ring order; the committed page skips them later.
    public func catchUp(with consumer: RingConsumer) {
        for cpu in 0..<min(cpuCount, consumer.cpuCount) {
            let state = consumer.ringState(cpu: cpu)
            guard consumer.nextSequence[cpu] == state.openSequence, let (sequence, bytes) = consumer.peekOpenPage(cpu: cpu) else { continue }
            var events: [TimedEvent] = []
            bytes.withUnsafeBytes { raw in
                let header = PageHeader.load(from: raw.baseAddress!)
                var records = RecordDecoder(base: raw.baseAddress! + PageHeaderLayout.size, length: raw.count - PageHeaderLayout.size)
                var clock = header.timestamp
                while let record = try? records.next() {
                    clock &+= record.delta
                    events.append(TimedEvent(timestamp: clock, cpu: UInt16(cpu), event: record.event))
                }
            }
            events = Array(events.dropLast())
            let already = peeked[cpu]?.sequence == sequence ? peeked[cpu]!.events : 0
            guard events.count > already else { continue }
            var run = pairer.beginRun(cpu: cpu)
            for event in events[already...] { pairer.consume(event.event, timestamp: event.timestamp, in: &run) }
            pairer.endRun(run)
            peeked[cpu] = (sequence, events.count)
        }
    }

    /// The interval's rows (see `LiveStatistics.closeInterval`).
    public func closeInterval(seconds: Double, grouping: ReportGrouping, sort: LiveSort) -> [LiveRow] {
        pairer.sink.closeInterval(seconds: seconds, grouping: grouping, sort: sort)
    }
}
