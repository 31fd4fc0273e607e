// The host side of the ring protocol (FORMAT.md, "Memory ordering"): copies committed pages out of
// a trace region into a trace file and frees them. The synthetic generator runs it in-process
// against real `RingProducer`s; the QEMU recorder runs the same steps against guest RAM.

/// Drains committed pages of every CPU ring in a mapped region into a `TraceFileWriter`.
public final class RegionDrainer {
    public let region: UnsafeMutableRawPointer
    public let layout: RegionHeader
    /// Next sequence to copy, per CPU.
    public private(set) var consumed: [UInt64]
    /// Pages seen overwritten while being copied (overwrite mode), discarded.
    public private(set) var pagesOverwrittenDuringCopy: UInt64 = 0
    private let scratch: UnsafeMutableRawBufferPointer

    public init(region: UnsafeMutableRawPointer, layout: RegionHeader) {
        self.region = region
        self.layout = layout
        consumed = Array(repeating: 0, count: Int(layout.cpuCount))
        scratch = .allocate(byteCount: Int(layout.pageSize), alignment: 16)
    }

    deinit { scratch.deallocate() }

    private func ring(_ cpu: Int) -> UnsafeMutableRawPointer { region + RegionHeader.ringStateOffset(cpu: cpu) }

    private func loadU64(_ pointer: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: pointer.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    /// Copies every committed page into `writer` (calling `inspect` on each copy first, which may
    /// alter it: the corruption hook of tests), then publishes the new consumer sequences.
    /// Returns the pages written.
    @discardableResult
    public func drain(into writer: TraceFileWriter,
                               inspect: (UnsafeMutableRawBufferPointer, Int, UInt64) -> Void = { _, _, _ in }) throws(TraceFileError) -> Int {
        var written = 0
        for cpu in 0..<Int(layout.cpuCount) {
            // Acquire: read producerSequence before the pages it publishes (host: load-acquire).
            let published = loadU64(ring(cpu), RingStateLayout.producerSequence)
            // In overwrite mode the oldest pages may already be gone: start at the oldest slot.
            if published > consumed[cpu] + UInt64(layout.pagesPerCPU) {
                consumed[cpu] = published - UInt64(layout.pagesPerCPU)
            }
            while consumed[cpu] < published {
                let sequence = consumed[cpu]
                let page = region + layout.pageOffset(cpu: cpu, sequence: sequence)
                scratch.baseAddress!.copyMemory(from: page, byteCount: scratch.count)
                // Re-check after the copy (host: load barrier first): a changed sequence means the
                // producer reopened the slot meanwhile, and the copy may mix two pages.
                let copied = loadU64(page, PageHeaderLayout.sequence) == sequence
                    && loadU64(scratch.baseAddress!, PageHeaderLayout.sequence) == sequence
                consumed[cpu] += 1
                guard copied else {
                    pagesOverwrittenDuringCopy += 1
                    continue
                }
                inspect(scratch, cpu, sequence)
                try writer.writePage(UnsafeRawBufferPointer(scratch), cpu: UInt16(cpu), sequence: sequence)
                written += 1
            }
            // Release: the pages are copied before the producer may reuse them.
            ring(cpu).storeBytes(of: consumed[cpu].littleEndian, toByteOffset: RingStateLayout.consumerSequence, as: UInt64.self)
        }
        return written
    }

    /// The earliest timestamp a page not yet drained can hold: the header time of every page still
    /// open, bounded by `now` (the producers' clocks have all passed `now`).
    public func watermark(now: UInt64) -> UInt64 {
        var lowest = now
        for cpu in 0..<Int(layout.cpuCount) {
            let open = loadU64(ring(cpu), RingStateLayout.openSequence)
            let page = region + layout.pageOffset(cpu: cpu, sequence: open)
            if loadU64(page, PageHeaderLayout.sequence) == PageHeader.openMarker {
                lowest = min(lowest, loadU64(page, PageHeaderLayout.timestamp))
            }
        }
        return lowest
    }

    /// Every ring's counters now.
    public func ringStates() -> [RingStateSnapshot] {
        (0..<Int(layout.cpuCount)).map { RingStateSnapshot(region: region, cpu: $0) }
    }
}
