import ArgumentParser
import HVTrace

/// The `hvtrace` root command: the single list of subcommands (one file each under Subcommands/).
@main
struct HVTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hvtrace",
        abstract: "Record, decode and analyse hypervisor exit traces.",
        subcommands: [Record.self, Run.self, Snapshot.self, Report.self, Flame.self, Compare.self, Export.self, Top.self, Dump.self,
                      Synth.self, DecodeBench.self, Import.self, KVM.self, FakeQEMU.self]
    )
}
