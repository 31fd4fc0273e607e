// The polling loop that drains a live trace region into a sink while the producer runs. It knows
// nothing about QEMU: `RecordingSession` runs it against the shared RAM file, tests run it against a
// region written by `RingProducer` on another thread.

import TraceFormat

/// Where drained pages go: the .hvt writer, or memory in tests. Pages arrive in sequence order per CPU.
public protocol TracePageSink {
    mutating func append(_ page: RingConsumer.Page) throws
}

/// Keeps copies of the pages (tests, and `snapshot` before writing).
public struct CollectingPageSink: TracePageSink {
    public struct StoredPage: Equatable, Sendable {
        public var cpu: Int
        public var sequence: UInt64
        public var bytes: [UInt8]
    }

    public private(set) var pages: [StoredPage] = []
    public init() {}

    public mutating func append(_ page: RingConsumer.Page) throws {
        pages.append(StoredPage(cpu: page.cpu, sequence: page.sequence, bytes: Array(page.bytes)))
    }
}

/// How often the loop looks at the rings. It polls every `minimumInterval` while pages keep coming,
/// backs off by doubling to `maximumInterval` when they do not, and does not sleep at all when a pass
/// found a ring at least half full (the producer is outrunning the interval).
public struct PollingPolicy: Sendable {
    public var minimumInterval: Double = 0.001
    public var maximumInterval: Double = 0.005
    public init(minimumInterval: Double = 0.001, maximumInterval: Double = 0.005) {
        self.minimumInterval = minimumInterval
        self.maximumInterval = maximumInterval
    }
}

/// Statistics of the loop itself, for the progress line, the summary and the throughput figures.
public struct DrainLoopStatistics: Sendable {
    public var passes = 0
    public var productivePasses = 0
    public var secondsAsleep = 0.0
    public var secondsDraining = 0.0
    /// The largest backlog (pages, any CPU) seen at the start of a pass.
    public var largestBacklog: UInt64 = 0
    public var currentInterval = 0.0
}

/// Drains a live region until told to stop, then empties it.
public final class LiveDrain {
    public let consumer: RingConsumer
    public let policy: PollingPolicy
    public private(set) var statistics = DrainLoopStatistics()

    public init(consumer: RingConsumer, policy: PollingPolicy = PollingPolicy()) {
        self.consumer = consumer
        self.policy = policy
        self.statistics.currentInterval = policy.minimumInterval
    }

    /// One pass over every CPU ring; returns the pages copied.
    @discardableResult
    public func pass<Sink: TracePageSink>(into sink: inout Sink) throws -> Int {
        let start = MonotonicClock.now
        var backlog: UInt64 = 0
        for cpu in 0..<consumer.cpuCount { backlog = max(backlog, consumer.backlog(cpu: cpu)) }
        statistics.largestBacklog = max(statistics.largestBacklog, backlog)
        let copied = try consumer.drain { page in try sink.append(page) }
        statistics.passes += 1
        if copied > 0 { statistics.productivePasses += 1 }
        statistics.secondsDraining += MonotonicClock.now - start
        let halfRing = UInt64(consumer.header.pagesPerCPU / 2)
        if backlog >= halfRing {
            statistics.currentInterval = 0
        } else if copied > 0 {
            statistics.currentInterval = policy.minimumInterval
        } else {
            statistics.currentInterval = min(max(statistics.currentInterval * 2, policy.minimumInterval),
                                             policy.maximumInterval)
        }
        return copied
    }

    /// Polls until `shouldStop()` is true, calling `progress` after every pass.
    public func run<Sink: TracePageSink>(into sink: inout Sink, until shouldStop: () -> Bool,
                                         progress: (LiveDrain) -> Void = { _ in }) throws {
        while !shouldStop() {
            try pass(into: &sink)
            progress(self)
            if statistics.currentInterval > 0 {
                statistics.secondsAsleep += statistics.currentInterval
                MonotonicClock.sleep(seconds: statistics.currentInterval)
            }
        }
    }

    /// Once the producer has stopped: drains every committed page left and, when `recoverOpenPages`,
    /// the pages the producer still had open (flagged uncommitted). Returns the pages written.
    @discardableResult
    public func finish<Sink: TracePageSink>(into sink: inout Sink, recoverOpenPages: Bool) throws -> Int {
        var total = 0
        while true {
            let copied = try pass(into: &sink)
            total += copied
            if copied == 0 { break }
        }
        if recoverOpenPages {
            total += try consumer.recoverOpenPages { page in try sink.append(page) }
        }
        return total
    }
}
