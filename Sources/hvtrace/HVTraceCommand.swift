import ArgumentParser
import HVTrace

/// The `hvtrace` root command: the single list of subcommands (one file each under Subcommands/).
@main
struct HVTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hvtrace",
        abstract: "Record, decode and analyse hypervisor exit traces.",
        subcommands: [Dump.self, Synth.self, Record.self, Run.self, Snapshot.self, FakeQEMU.self]
    )
}
