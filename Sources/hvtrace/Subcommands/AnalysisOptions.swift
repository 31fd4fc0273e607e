import ArgumentParser
import HVTrace

extension OutputFormat: ExpressibleByArgument {}
extension ReportGrouping: ExpressibleByArgument {}

/// Output options shared by `report`, `flame` and `compare`.
struct OutputOptions: ParsableArguments {
    @Option(help: "Output format: text, json, markdown or html (one self-contained page).")
    var format: OutputFormat = .text

    @Option(name: [.short, .long], help: ArgumentHelp("Write the output to PATH (through a temporary file and a rename) instead of stdout.",
                               valueName: "PATH"))
    var output: String?

    /// Prints `text` or writes it to `--output`.
    func emit(_ text: String) throws {
        if let output { try TraceAnalysis.write(text, to: output) } else { print(text, terminator: "") }
    }
}
