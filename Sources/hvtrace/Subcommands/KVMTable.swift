import ArgumentParser
import HVTrace

/// `hvtrace kvm table DIR`: the side-by-side table from the console logs of scripts/kvm-side-by-side.sh.
struct KVMTable: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "Print the side-by-side table (ours vs KVM, tracing off and on) from a directory of console logs.",
        discussion: """
            DIR holds SIDE-WORKLOAD-TRACING.console files (SIDE ours|kvm, WORKLOAD probe|linux, TRACING off|on), \
            as scripts/kvm-side-by-side.sh writes them. Probe rows are (ticks - loop ticks) / count at the \
            counter frequency: nanoseconds of virtual time, which under -icount shift=0 are L0 instructions. \
            Linux rows are the guest's printk timestamps of its markers.
            """)

    @Argument(help: "The directory of console logs.")
    var directory: String

    @Option(help: "text or markdown.")
    var format: OutputFormat = .text

    @Option(help: ArgumentHelp("The line printed under the table (the machine the figures come from).", valueName: "text"))
    var machine = ""

    @Option(help: ArgumentHelp("Repository root (for the marker definitions).", valueName: "directory"))
    var root = "."

    @Flag(help: "Exit 1 when a probe figure is missing or its operation failed (for CI).")
    var check = false

    func validate() throws {
        if format == .json { throw ValidationError("--format is text or markdown") }
    }

    func run() throws {
        let markers: SideBySideMarkers
        do {
            markers = try SideBySideMarkers(repositoryRoot: root)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let table = SideBySideTable.load(directory: directory, markers: markers, machine: machine)
        print(table.rendered(markdown: format == .markdown), terminator: "")
        if check {
            let problems = table.probeProblems
            for problem in problems { printError(problem) }
            if !problems.isEmpty { throw ExitCode(1) }
        }
    }
}
