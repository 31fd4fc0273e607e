import ArgumentParser
import HVTrace

/// `hvtrace fake-qemu`: plays QEMU + hypervisor for testing the recording pipeline without either.
struct FakeQEMU: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fake-qemu",
        abstract: "Stand in for QEMU and the hypervisor: write a live trace into the RAM file of a QEMU command line.",
        discussion: """
            Use as `hvtrace record --qemu "hvtrace fake-qemu --exits 100000 --" …`. Finds mem-path= in the \
            QEMU arguments after `--`, initialises the trace region there, produces HVC exits with the \
            hypervisor's RingProducer on one thread per CPU, flushes and exits like a guest powering off.
            """,
        shouldDisplay: false
    )

    @Option(help: "Exits per CPU (6 events each).")
    var exits: UInt64 = 100_000

    @Option(help: "Exits per second per CPU (0: as fast as possible).")
    var rate: Double = 0

    @Option(help: "CPUs.")
    var cpus = 2

    @Option(help: "Ring mode.")
    var mode: RingMode = .stopWhenFull

    @Option(help: "Pages per CPU ring.")
    var pagesPerCPU: UInt32 = 1024

    @Option(help: "Exit status (0: guest powered off).")
    var status: Int32 = 0

    @Flag(help: "Leave the last page open (as a crash would).")
    var noFlush = false

    @Option(help: ArgumentHelp("Sleep this long after producing, before exiting.", valueName: "seconds"))
    var linger: Double = 0

    @Argument(parsing: .captureForPassthrough, help: "The QEMU command line's arguments.")
    var qemuArguments: [String] = []

    func run() throws {
        guard let ramFile = FakeHypervisor.ramFilePath(inQEMUArguments: qemuArguments) else {
            printError("fake-qemu: no memory-backend-file,…,mem-path=… in the arguments")
            throw ExitCode(2)
        }
        var options = FakeHypervisorOptions()
        options.cpus = cpus
        options.mode = mode
        options.pagesPerCPU = pagesPerCPU
        options.exitsPerCPU = exits
        options.exitsPerSecond = rate
        options.skipFinalFlush = noFlush
        do {
            let produced = try FakeHypervisor.run(ramFile: ramFile, options: options)
            printToStandardError("fake-qemu: produced \(produced.map(String.init).joined(separator: " + ")) events")
        } catch {
            printError("fake-qemu: \(error)")
            throw ExitCode(2)
        }
        if linger > 0 { MonotonicClock.sleep(seconds: linger) }
        throw ExitCode(status)
    }
}
