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
            let line = oneLine(message(for: error))
            FileHandle.standardError.write(Data("hvtrace: error: \(line)\n".utf8))
            Foundation.exit(2)
        }
    }

    /// argument-parser's message as one line: its first line, with a "one of the following:" list
    /// (printed one `- value` a line once there are more than a few values) folded into it.
    static func oneLine(_ message: String) -> String {
        let lines = message.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first else { return "" }
        let items = lines.dropFirst().filter { $0.hasPrefix("- ") }.map { "'\($0.dropFirst(2))'" }
        let listIntroduction = "one of the following:"
        guard first.hasSuffix(listIntroduction), let last = items.last else { return first }
        let list = items.count == 1 ? last : items.dropLast().joined(separator: ", ") + " or " + last
        return first.dropLast(listIntroduction.count) + "one of " + list + "."
    }
}
