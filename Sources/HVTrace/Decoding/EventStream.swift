// All CPUs' events merged into one time-ordered stream: a k-way merge (binary heap keyed by
// timestamp, then CPU) over per-CPU page cursors. Pages arrive in drain order, so a CPU's next page
// may sit further down the file; the stream reads ahead, keeping copies of pages for CPUs that
// already have a current page, until every CPU either has a head event or is known (through a
// watermark chunk, or the end of the file) to have nothing earlier. Memory is bounded by the pages
// between two watermarks; files written without watermarks may need more read-ahead.

/// Events of every CPU in timestamp order (ties broken by CPU number).
///
/// Not thread-safe (one consumer). Its hot stored properties are `@exclusivity(unchecked)`: the
/// runtime exclusivity checks on class properties cost more than half the decode time, and no
/// access here overlaps (measured with callgrind; see FORMAT.md "Performance").
public final class EventStream {
    public let source: PageSource

    /// A page copied out of the reader's window, with its decoder.
    private struct Cursor {
        var page: TracePage
        var storage: UnsafeMutableRawBufferPointer
        var decoder: PageDecoder
    }

    @exclusivity(unchecked) private var heads: [TimedEvent?]
    @exclusivity(unchecked) private var cursors: [Cursor?]
    /// Pages read ahead, per CPU, waiting for their turn (FIFO: `queues[cpu][queueStart[cpu]...]`).
    @exclusivity(unchecked) private var queues: [[Cursor]]
    @exclusivity(unchecked) private var queueStart: [Int]
    /// Binary min-heap of CPUs with a head event, ordered by (timestamp, cpu).
    @exclusivity(unchecked) private var heap: [UInt16] = []
    @exclusivity(unchecked) private var cpusWithoutHead: Int
    @exclusivity(unchecked) private var exhausted = false
    /// Spare page buffers (every page fits in one region page).
    @exclusivity(unchecked) private var pool: [UnsafeMutableRawBufferPointer] = []
    private let pageCapacity: Int
    /// Pages copied into `queues` and not yet decoded.
    @exclusivity(unchecked) private var queuedPages = 0
    /// Timestamp of the last event `next()` returned: an event before it is out of order.
    @exclusivity(unchecked) private var lastEmitted: UInt64 = 0
    /// The most pages the merge holds in `queues` (`maximumReadAheadBytes` of page buffers). A file
    /// whose watermarks are missing or lie (a CPU that never shows up) would otherwise make the
    /// merge copy the whole file into memory; past this the smallest head is released anyway.
    private let maximumQueuedPages: Int
    /// Read-ahead memory bound of the merge.
    public static let maximumReadAheadBytes = 256 << 20

    public init(source: PageSource) {
        self.source = source
        let cpuCount = Int(source.header.region.cpuCount)
        heads = Array(repeating: nil, count: cpuCount)
        cursors = Array(repeating: nil, count: cpuCount)
        queues = Array(repeating: [], count: cpuCount)
        queueStart = Array(repeating: 0, count: cpuCount)
        cpusWithoutHead = cpuCount
        pageCapacity = Int(source.header.region.pageSize)
        maximumQueuedPages = max(64, EventStream.maximumReadAheadBytes / pageCapacity)
    }

    /// Opens `path` and merges its CPUs.
    public convenience init(path: String) throws(TraceFileError) {
        self.init(source: try PageSource(path: path))
    }

    deinit {
        for cursor in cursors { cursor?.storage.deallocate() }
        for (cpu, queue) in queues.enumerated() { for cursor in queue[queueStart[cpu]...] { cursor.storage.deallocate() } }
        for buffer in pool { buffer.deallocate() }
    }

    public var header: TraceFileHeader { source.header }
    public var diagnostics: DecodeDiagnostics { source.diagnostics }

    /// The next event in time order, nil when every page has been merged. Never throws today
    /// (problems become diagnostics); typed for the contract and for future I/O policies.
    public func next() throws(TraceDecodeError) -> TimedEvent? {
        while true {
            if !exhausted {
                guard let top = heap.first else {
                    pump()
                    continue
                }
                if cpusWithoutHead > 0, !(heads[Int(top)]!.timestamp < source.reader.watermark) {
                    if _fastPath(queuedPages < maximumQueuedPages) {
                        pump()
                        continue
                    }
                    source.reader.diagnostics.count(.mergeReadAheadLimit, detail: "\(queuedPages) pages held while waiting for \(cpusWithoutHead) CPU(s)")
                }
            }
            guard let top = heap.first else { return nil }
            let cpu = Int(top)
            let event = heads[cpu]!
            advance(cpu: cpu)
            if heads[cpu] != nil { siftDown(0) } else { removeTop() }
            if _slowPath(event.timestamp < lastEmitted) {
                source.reader.diagnostics.count(.mergeOutOfOrder, detail: "cpu \(event.cpu): event at \(event.timestamp) after one at \(lastEmitted)")
            } else {
                lastEmitted = event.timestamp
            }
            return event
        }
    }

    /// Reads one more page from the file into its CPU's cursor or queue.
    private func pump() {
        guard let page = source.next() else {
            exhausted = true
            return
        }
        let storage = pool.popLast() ?? .allocate(byteCount: pageCapacity, alignment: 16)
        storage.copyMemory(from: page.bytes)
        var owned = page
        owned.bytes = UnsafeRawBufferPointer(rebasing: storage[0..<page.bytes.count])
        let cursor = Cursor(page: owned, storage: storage, decoder: source.makeDecoder(owned))
        let cpu = Int(page.cpu)
        if cursors[cpu] == nil {
            cursors[cpu] = cursor
            advance(cpu: cpu)
            if heads[cpu] != nil { push(UInt16(cpu)) }
        } else {
            queues[cpu].append(cursor)
            queuedPages += 1
        }
    }

    /// Moves `cpu`'s head to its next event (next page if needed); keeps `cpusWithoutHead` right.
    /// The caller fixes the heap.
    private func advance(cpu: Int) {
        let hadHead = heads[cpu] != nil
        heads[cpu] = nil
        while var cursor = cursors[cpu] {
            if let event = source.decodeNext(&cursor.decoder, page: cursor.page) {
                cursors[cpu] = cursor
                heads[cpu] = event
                break
            }
            pool.append(cursor.storage)
            if queueStart[cpu] < queues[cpu].count {
                cursors[cpu] = queues[cpu][queueStart[cpu]]
                queueStart[cpu] += 1
                queuedPages -= 1
                if queueStart[cpu] == queues[cpu].count {
                    queues[cpu].removeAll(keepingCapacity: true)
                    queueStart[cpu] = 0
                }
            } else {
                cursors[cpu] = nil
            }
        }
        let hasHead = heads[cpu] != nil
        if hadHead && !hasHead { cpusWithoutHead += 1 }
        if !hadHead && hasHead { cpusWithoutHead -= 1 }
    }

    // MARK: heap of CPUs keyed by their head's (timestamp, cpu)

    @inline(__always)
    private func less(_ a: UInt16, _ b: UInt16) -> Bool {
        let ta = heads[Int(a)]!.timestamp, tb = heads[Int(b)]!.timestamp
        return ta < tb || (ta == tb && a < b)
    }

    private func push(_ cpu: UInt16) {
        heap.append(cpu)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private func removeTop() {
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(0)
        }
    }

    private func siftDown(_ index: Int) {
        var parent = index
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < heap.count && less(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count && less(heap[right], heap[smallest]) { smallest = right }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
