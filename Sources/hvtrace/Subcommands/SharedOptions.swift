import ArgumentParser
import HVTrace

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The trace file argument every reading subcommand takes.
struct TraceInputOptions: ParsableArguments {
    @Argument(help: "The .hvt trace file to read.")
    var file: String

    /// Opens the file, or prints `hvtrace: error: FILE: …` and exits with code 2.
    func openStream() throws -> EventStream {
        do {
            return try EventStream(path: file)
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
    }
}

/// Writes `hvtrace: error: MESSAGE` to stderr.
func printError(_ message: String) {
    printToStandardError("hvtrace: error: \(message)")
}

/// Writes `hvtrace: warning: MESSAGE` to stderr.
func printWarning(_ message: String) {
    printToStandardError("hvtrace: warning: \(message)")
}

/// Writes a line to stderr.
func printToStandardError(_ text: String) {
    var line = text + "\n"
    line.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
