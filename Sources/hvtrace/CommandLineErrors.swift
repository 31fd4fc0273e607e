import ArgumentParser
import Foundation

extension HVTraceCommand {
    /// Runs the command with hvtrace's exit-status contract: help and success exit 0, a command's
    /// own `ExitCode` (compare's 1) passes through, and every usage or input error is printed as one
    /// line, `hvtrace: error: …`, with exit status 2.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help, --version: argument-parser's own text.
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            let line = message(for: error)
            FileHandle.standardError.write(Data("hvtrace: error: \(line.split(separator: "\n").first ?? "")\n".utf8))
            Foundation.exit(2)
        }
    }
}
