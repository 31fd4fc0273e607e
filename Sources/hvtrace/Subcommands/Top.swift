import ArgumentParser
import HVTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension LiveSort: ExpressibleByArgument {}

/// `hvtrace top`: a live view of a running guest's exits, like kvm_stat.
struct Top: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a guest and watch its exits live: exits/s per reason, p50/p99 of the last interval, lost events, ring fill.",
        discussion: """
            Runs the guest as 'hvtrace record' does (QEMU's console goes to --console-log instead of \
            the terminal) and redraws a table every --interval seconds: per exit reason (or --by \
            group) the exits per second, the total, p50/p99/max latency of the last interval and the \
            share of hypervisor time; above it lost events and how full each CPU's trace ring is. \
            Keys: s next sort column (rate, total, p99, time), b next grouping (reason, hvc, device, \
            irq, sysreg, vcpu, cpu), q quit (stops the guest). When standard output is not a terminal \
            (or with --plain) it prints key=value lines per interval instead. Each refresh counts \
            the drained pages and the pages the CPUs are still filling (all but their last record, \
            which may be half written), so an idle guest shows at once; rates are per wall-clock \
            second; -o also records the trace.
            """)

    @OptionGroup var session: GuestRunOptions

    @Option(help: "Split each reason by: \(ReportGrouping.allCases.map(\.rawValue).joined(separator: ", ")).")
    var by: ReportGrouping = .reason

    @Option(help: "Sort by: rate, total, p99, time.")
    var sort: LiveSort = .rate

    @Option(help: ArgumentHelp("Seconds between refreshes.", valueName: "seconds"))
    var interval = 1.0

    @Flag(help: "Print plain key=value lines even on a terminal.")
    var plain = false

    @Option(name: .shortAndLong, help: ArgumentHelp("Also record the trace into this .hvt file.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Where QEMU's console output goes.", valueName: "file"))
    var consoleLog = "hvtrace-top-console.log"

    func validate() throws {
        guard interval >= 0.05 && interval.isFinite else { throw ValidationError("--interval must be at least 0.05 seconds") }
    }

    func run() throws {
        var options = session.recordingOptions
        options.quiet = true
        options.consoleLog = consoleLog
        let screen = !plain && isatty(1) == 1
        let keyboard = screen && isatty(0) == 1 ? RawKeyboard() : nil
        defer { keyboard?.restore() }
        var grouping = by, order = sort
        var live: LiveTraceOutput?
        let start = MonotonicClock.now
        var lastRefresh = start
        var quit = false
        let guest = session.guest.rawValue
        func frame(_ consumer: RingConsumer, now: Double, ended: String? = nil) -> LiveFrame {
            guard let live else {
                return LiveFrame(guest: guest, elapsed: now - start, interval: now - lastRefresh, grouping: grouping, sort: order, rows: [],
                                 totalExits: 0, intervalExits: 0, lostEvents: 0, intervalLostEvents: 0, pagesLost: 0, ringFill: [], ended: ended)
            }
            let statistics = live.pairer.sink
            let intervalExits = statistics.intervalExits, intervalLost = statistics.intervalLostEvents
            let rows = live.closeInterval(seconds: max(1e-9, now - lastRefresh), grouping: grouping, sort: order)
            var dropped: UInt64 = 0
            for cpu in 0..<consumer.cpuCount { dropped += consumer.ringState(cpu: cpu).lostEvents }
            let pages = UInt64(max(1, consumer.header.pagesPerCPU))
            return LiveFrame(guest: guest, elapsed: now - start, interval: now - lastRefresh, grouping: grouping, sort: order, rows: rows,
                             totalExits: statistics.totalExits, intervalExits: intervalExits,
                             lostEvents: max(dropped, statistics.totalLostEvents), intervalLostEvents: intervalLost,
                             pagesLost: consumer.totalCounters.pagesLost,
                             ringFill: (0..<consumer.cpuCount).map { Double(min(pages, consumer.backlog(cpu: $0))) / Double(pages) },
                             ended: ended)
        }
        func show(_ frame: LiveFrame) {
            if screen {
                let (width, height) = terminalSize()
                writeOut(LiveView.screen(frame, width: width, height: height))
            } else {
                writeOut(LiveView.lines(frame))
            }
        }
        if screen { writeOut("\u{1B}[2J\u{1B}[H") }
        var lastConsumer: RingConsumer?
        let result: RecordingResult
        do {
            result = try RecordingSession.run(options, openOutput: { region, metadata in
                let file = try output.map { try HVTFileOutput(path: $0, region: region, metadata: metadata, compressionLevel: session.level) }
                let output = LiveTraceOutput(region: region, file: file)
                live = output
                return output
            }, observe: { consumer in
                lastConsumer = consumer
                while let key = keyboard?.read() {
                    switch key {
                    case UInt8(ascii: "q"), UInt8(ascii: "Q"): quit = true
                    case UInt8(ascii: "s"): order = order.next; lastRefresh -= interval  // redraw now
                    case UInt8(ascii: "b"):
                        let all = ReportGrouping.allCases
                        grouping = all[(all.firstIndex(of: grouping)! + 1) % all.count]
                        lastRefresh -= interval
                    default: break
                    }
                }
                let now = MonotonicClock.now
                if now - lastRefresh >= interval {
                    live?.catchUp(with: consumer)
                    show(frame(consumer, now: now))
                    lastRefresh = now
                }
                return !quit
            })
        } catch let error as RecordingError {
            keyboard?.restore()
            printError(error.description)
            throw ExitCode(2)
        }
        let ended = quit ? "stopped (q)" : "\(result.end)"
        if let consumer = lastConsumer ?? result.consumer {
            show(frame(consumer, now: MonotonicClock.now, ended: ended + (output.map { "; trace in \($0)" } ?? "") + "; console in \(consoleLog)"))
        } else {
            printToStandardError("hvtrace top: \(ended)")
        }
        if result.exitCode != 0 && !quit { throw ExitCode(result.exitCode) }
    }

    func writeOut(_ text: String) {
        var text = text
        text.withUTF8 { bytes in _ = write(1, bytes.baseAddress, bytes.count) }
    }

    func terminalSize() -> (Int, Int) {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0, size.ws_row > 0 { return (Int(size.ws_col), Int(size.ws_row)) }
        return (100, 40)
    }
}

/// Standard input in non-canonical, no-echo, non-blocking mode (single key presses), restored on `restore`.
final class RawKeyboard {
    private var saved = termios()
    private var active = false
    private var flags: Int32 = 0

    init() {
        guard tcgetattr(0, &saved) == 0 else { return }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO)
        tcsetattr(0, TCSANOW, &raw)
        flags = fcntl(0, F_GETFL)
        _ = fcntl(0, F_SETFL, flags | O_NONBLOCK)
        active = true
    }

    /// The next key pressed, nil when none is waiting.
    func read() -> UInt8? {
        guard active else { return nil }
        var byte: UInt8 = 0
        return Glibc.read(0, &byte, 1) == 1 ? byte : nil
    }

    func restore() {
        guard active else { return }
        tcsetattr(0, TCSANOW, &saved)
        _ = fcntl(0, F_SETFL, flags)
        active = false
    }
}
