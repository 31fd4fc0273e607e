import ArgumentParser
import HVTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension GuestKind: ExpressibleByArgument {}

extension RingMode: ExpressibleByArgument {
    public init?(argument: String) {
        switch argument {
        case "overwrite": self = .overwrite
        case "stop-when-full": self = .stopWhenFull
        default: return nil
        }
    }

    public static var allValueStrings: [String] { ["overwrite", "stop-when-full"] }
}

/// `--memory` / `--machine-memory` values: `512M`, `2G`, `1536MiB`, bytes.
func parseMemorySize(_ text: String) throws -> MemorySize {
    guard let size = MemorySize(parsing: text) else { throw ValidationError("give a size such as 512M, 1536M or 2G") }
    return size
}

/// The options `record`, `run` and `top` share: which guest, what machine, how QEMU runs, how long.
/// Every launcher (hypervisor/scripts/run-qemu.sh, scripts/run-linux-direct.sh, test-linux.sh)
/// passes its options through to these.
struct GuestRunOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The guest to run.", valueName: "guest"))
    var guest: GuestKind

    @Option(help: ArgumentHelp("Guest kernel image (default: the guest's image in the repository; required for nimbos).", valueName: "file"))
    var image: String?

    @Option(help: ArgumentHelp("Linux initramfs (default: cache/guests/linux/initramfs.cpio.gz).", valueName: "file"))
    var initramfs: String?

    @Flag(help: "Run the guest directly on QEMU without the hypervisor (the baseline; linux and nimbos).")
    var direct = false

    @Option(help: ArgumentHelp("Physical CPUs QEMU emulates (-smp), 1…8.", valueName: "n"))
    var cpus = 2

    @Option(help: ArgumentHelp("The VM's vCPUs, at most --cpus (default: one per physical CPU for linux, 1 otherwise).", valueName: "n"))
    var vcpus: Int?

    @Option(help: ArgumentHelp("Guest RAM, e.g. 512M or 2G: linux 256M…3G (default 256M); the other guests have 128M.", valueName: "size"),
            transform: parseMemorySize)
    var memory: MemorySize?

    @Option(help: ArgumentHelp("Machine RAM (QEMU -m; default: the hypervisor's 256M plus --memory, at least 1G).", valueName: "size"),
            transform: parseMemorySize)
    var machineMemory: MemorySize?

    @Flag(help: "Reproducible run: -icount shift=0,sleep=off, dtb-randomness=off, a VM clock from 2024-01-01.")
    var deterministic = false

    @Option(help: "Ring mode asked of the hypervisor (trace_mode= in its boot arguments).")
    var mode: RingMode?

    @Option(help: ArgumentHelp("Stop QEMU after this many seconds (exit status 124).", valueName: "seconds"))
    var timeout: Double?

    @Option(name: .customLong("append"), help: ArgumentHelp("Extra words for the hypervisor's boot arguments (words after `--` go to the Linux command line).", valueName: "words"))
    var extraBootArguments: String?

    @Option(name: .customLong("guest-append"), help: ArgumentHelp("Extra words for the Linux kernel's command line.", valueName: "words"))
    var guestCommandLine: String?

    @Flag(help: "Linux: boot into the interactive busybox shell (hvtrace.shell=1; `exit` powers off).")
    var shell = false

    @Option(help: ArgumentHelp("--direct: give Linux this DTB instead of QEMU's own.", valueName: "file"))
    var dtb: String?

    @Flag(help: "Do not run `make -C hypervisor` first.")
    var noBuild = false

    @Option(help: ArgumentHelp("Repository root holding hypervisor/ and cache/.", valueName: "directory"))
    var root = "."

    @Flag(help: "Print the QEMU command and exit.")
    var dryRun = false

    @Option(help: "zstd compression level of the .hvt file.")
    var level: Int32 = TraceFileWriter.defaultCompressionLevel

    @Option(help: ArgumentHelp("QEMU command: an executable, optionally followed by words placed before QEMU's arguments (e.g. a wrapper).", valueName: "command"))
    var qemu = "qemu-system-aarch64"

    @Argument(parsing: .postTerminator, help: ArgumentHelp("Extra QEMU arguments after `--`, placed after hvtrace's own (e.g. -- -icount shift=0).", valueName: "qemu-arguments"))
    var qemuArguments: [String] = []

    func validate() throws {
        if let timeout, !(timeout > 0) { throw ValidationError("--timeout must be a positive number of seconds") }
        // The shape and the option combinations, before anything is built or started.
        do {
            try GuestLaunch.checkOptions(recordingOptions)
            _ = try recordingOptions.machine.resolve(for: guest, direct: direct)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Space-separated words of an option value.
    private func words(_ text: String?) -> [String] { text.map { $0.split(separator: " ").map(String.init) } ?? [] }

    var recordingOptions: RecordingOptions {
        var options = RecordingOptions(guest: guest)
        options.image = image
        options.initramfs = initramfs
        options.direct = direct
        options.machine = MachineRequest(physicalCPUs: cpus, vcpus: vcpus, guestRAM: memory, machineRAM: machineMemory)
        options.deterministic = deterministic
        options.mode = mode
        options.timeout = timeout
        options.extraBootArguments = words(extraBootArguments)
        options.guestCommandLine = words(guestCommandLine)
        options.shell = shell
        options.deviceTree = dtb
        options.qemuExtraArguments = qemuArguments
        options.buildHypervisor = !noBuild && !dryRun
        options.repositoryRoot = root
        let words = qemu.split(separator: " ").map(String.init)
        options.qemuExecutable = words.first ?? "qemu-system-aarch64"
        options.qemuPrefixArguments = Array(words.dropFirst())
        return options
    }
}

/// Runs a session (or prints its command), writes the trace to `output` when given, prints the summary.
func runSession(_ run: GuestRunOptions, output: String?, keepRAMFile: Bool, quiet: Bool) throws {
    var options = run.recordingOptions
    options.keepRAMFile = keepRAMFile
    options.quiet = quiet
    if run.dryRun {
        do {
            print(try RecordingSession.command(for: options, ramFilePath: "/dev/shm/hvtrace-PID-RANDOM").commandLine)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        return
    }
    let result: RecordingResult
    do {
        result = try RecordingSession.run(options, openOutput: output.map { path in
            { region, metadata in
                try HVTFileOutput(path: path, region: region, metadata: metadata, compressionLevel: run.level)
            }
        })
    } catch let error as RecordingError {
        printError(error.description)
        throw ExitCode(2)
    } catch let error as TraceFileError {
        printError(error.description)
        throw ExitCode(2)
    }
    if keepRAMFile { printToStandardError("hvtrace: RAM file kept: \(result.ramFilePath) (read it with `hvtrace snapshot \(result.ramFilePath)`)") }
    if let consumer = result.consumer {
        printToStandardError(RecordingSummary.render(consumer, end: result.end, output: output, seconds: result.seconds))
        if let statistics = result.drainStatistics {
            printToStandardError("  drain: \(statistics.passes) polls (\(statistics.productivePasses) with pages), "
                                 + "largest backlog \(statistics.largestBacklog) pages, file \(result.outputBytes) bytes")
        }
    } else {
        if run.direct && result.end == .guestPoweredOff {
            // No hypervisor, no end status: QEMU exits 0 on a power-off and (with -no-reboot) on a reset alike.
            printToStandardError("hvtrace: QEMU exited 0 (--direct: the guest powered off or reset; without the hypervisor nothing tells them apart)")
        } else {
            printToStandardError("hvtrace: \(result.end)")
        }
    }
    if result.exitCode != 0 { throw ExitCode(result.exitCode) }
}

/// `hvtrace record`: run a guest under the hypervisor and record its trace.
struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a guest under the hypervisor in QEMU and record the trace live into an .hvt file.",
        discussion: """
            Builds the hypervisor (make -C hypervisor), starts QEMU with guest RAM in a shared file in \
            /dev/shm, drains the trace rings every 1–5 ms while the guest runs, and stops when the guest \
            powers off, on Ctrl-C, or at --timeout; then drains what is left and prints a summary. \
            The console is QEMU's: type into it, Ctrl-A x quits QEMU.
            """
    )

    @OptionGroup var session: GuestRunOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Output .hvt file (default: <guest>.hvt).", valueName: "file"))
    var output: String?

    @Flag(help: "Leave the shared RAM file in /dev/shm for `hvtrace snapshot`.")
    var keepRAMFile = false

    @Flag(help: "No progress line, even on a terminal.")
    var quiet = false

    func run() throws {
        try runSession(session, output: output ?? "\(session.guest.rawValue).hvt", keepRAMFile: keepRAMFile, quiet: quiet)
    }
}

/// `hvtrace run`: run a guest, recording only with `--record`.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a guest under the hypervisor in QEMU (interactive console), optionally recording.")

    @OptionGroup var session: GuestRunOptions

    @Option(help: ArgumentHelp("Record the trace into this .hvt file.", valueName: "file"))
    var record: String?

    @Flag(help: "Leave the shared RAM file in /dev/shm for `hvtrace snapshot`.")
    var keepRAMFile = false

    @Flag(help: "No progress line, even on a terminal.")
    var quiet = false

    func run() throws {
        try runSession(session, output: record, keepRAMFile: keepRAMFile, quiet: quiet)
    }
}
