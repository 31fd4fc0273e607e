import ArgumentParser
import HVTrace

@main
struct HVTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hvtrace",
        abstract: "Record, decode and analyse hypervisor exit traces.",
        subcommands: [Report.self, Flame.self, Compare.self]
    )
}
