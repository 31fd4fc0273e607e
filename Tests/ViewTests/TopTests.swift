// `hvtrace top` with real guests: plain lines when standard output is a file (the probe guest),
// and the refreshing screen under tmux (Linux idling at its shell), driven with send-keys and read
// with capture-pane. Every run also records its trace (-o), and the view's totals must equal the
// report of that trace. Bounded: the probe ends by itself, Linux is quit with q (and --timeout).

import Foundation
import Testing
@testable import HVTrace

enum TopRun {
    static let hvtrace: String = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("hvtrace").path
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : repositoryRoot + "/.build/debug/hvtrace"
    }()
    static let qemu = FileManager.default.isExecutableFile(atPath: "/usr/bin/qemu-system-aarch64")
    static let linux = FileManager.default.fileExists(atPath: repositoryRoot + "/cache/guests/linux/Image")
    static var noBuild: [String] { FileManager.default.fileExists(atPath: repositoryRoot + "/hypervisor/build/hv.elf") ? ["--no-build"] : [] }
    static let missingQEMU: Comment = "qemu-system-aarch64 not installed (scripts/setup.sh)"
    static let missingLinux: Comment = "no Linux guest image in cache/guests/linux (scripts/setup-guests.sh)"

    /// Runs tmux with `arguments` and returns its standard output. Through `ChildProcess`, which
    /// starts children with no signal blocked: tmux's client waits for a signal from the server it
    /// starts, and Foundation's Process would start it with signals blocked (it then hangs).
    static func tmux(_ executable: String, _ arguments: [String], in directory: ScratchDirectory) throws -> String {
        let log = directory.path("tmux-\(UUID().uuidString).out")
        let child = try ChildProcess(executable: executable, arguments: arguments, consoleLog: log)
        let deadline = Date().addingTimeInterval(10)
        while child.poll() == nil {
            if Date() > deadline {
                _ = child.stop(grace: 1)
                throw ReaderFailure(description: "tmux \(arguments.joined(separator: " ")) did not return within 10 s")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        defer { try? FileManager.default.removeItem(atPath: log) }
        return (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    }

    /// Per reason, the `total=` of the last line naming it.
    static func totals(inPlainLines text: String) -> [String: Int] {
        var result: [String: Int] = [:]
        for line in text.split(separator: "\n") where line.contains(" reason=") {
            var reason = "", total = 0
            for field in line.split(separator: " ") {
                if field.hasPrefix("reason=") { reason = String(field.dropFirst(7)) }
                if field.hasPrefix("total=") { total = Int(field.dropFirst(6)) ?? -1 }
            }
            result[reason] = total
        }
        return result
    }
}

@Test(.enabled(if: TopRun.qemu, TopRun.missingQEMU))
func topPrintsPlainLinesWhenNotOnATerminal() throws {
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let trace = directory.path("probe.hvt")
    let (status, output, errors) = try runTool(TopRun.hvtrace, ["top", "--guest", "probe", "--deterministic", "--root", repositoryRoot,
                                                                "--interval", "0.1", "-o", trace, "--console-log", directory.path("console.log")]
                                                   + TopRun.noBuild, timeout: 240)
    #expect(status == 0, "\(errors)")
    let lines = output.split(separator: "\n")
    #expect(lines.allSatisfy { $0.hasPrefix("t=") }, "\(output.prefix(400))")
    let summary = try #require(lines.last { $0.contains(" exits_per_s=") && $0.contains("lost_events=") && $0.contains("ended=") })
    #expect(summary.contains("ended=\"guest powered off; trace in \(trace); console in "))
    #expect(summary.contains("lost_events=0 lost_pages=0 ring_fill=cpu0:"))
    let report = try TraceAnalysis.report(path: trace)
    #expect(summary.contains(" exits=\(report.totals.exits) "))
    #expect(TopRun.totals(inPlainLines: output) == Dictionary(uniqueKeysWithValues: report.reasons.map { ($0.reason, Int($0.count)) }))
    #expect(report.reasons.first { $0.reason == "HVC64" }?.count == 2024)
    #expect(try String(contentsOfFile: directory.path("console.log"), encoding: .utf8).contains("SYSTEM_OFF"))
}

@Test(.enabled(if: TopRun.qemu, TopRun.missingQEMU), .enabled(if: TopRun.linux, TopRun.missingLinux),
      .enabled(if: TestReaders.tmuxOrCI, TestReaders.missingTmux))
func topRefreshesUnderTmuxAndAnswersKeys() throws {
    let tmux = try #require(TestReaders.tmux, "tmux not installed: run scripts/setup-test-readers.sh")
    let directory = ScratchDirectory()
    defer { directory.cleanup() }
    let session = "hvtrace-top-\(getpid())"
    let trace = directory.path("linux.hvt")
    let command = ([TopRun.hvtrace, "top", "--guest", "linux", "--root", repositoryRoot, "--interval", "0.4", "--timeout", "60",
                    "'--append=-- hvtrace.shell=1'", "-o", trace, "--console-log", directory.path("console.log")] + TopRun.noBuild)
        .joined(separator: " ") + "; echo TOP-EXIT=$?; sleep 60"
    _ = try TopRun.tmux(tmux, ["new-session", "-d", "-s", session, "-x", "140", "-y", "40", command], in: directory)
    defer { _ = try? TopRun.tmux(tmux, ["kill-session", "-t", session], in: directory) }
    func screen() throws -> String { try TopRun.tmux(tmux, ["capture-pane", "-p", "-t", session], in: directory) }
    func keys(_ key: String) throws { _ = try TopRun.tmux(tmux, ["send-keys", "-t", session, key], in: directory) }
    /// Polls the screen until `condition` holds (at most `seconds`).
    func waitFor(_ what: String, seconds: Double, _ condition: (String) -> Bool) throws -> String {
        let deadline = Date().addingTimeInterval(seconds)
        var last = ""
        while Date() < deadline {
            last = try screen()
            if condition(last) { return last }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw ReaderFailure(description: "no \(what) on the screen within \(seconds) s; it shows:\n\(last)")
    }
    // The guest booted and idles: WFI and timer IRQs keep arriving, live (from the open pages too).
    let running = try waitFor("live rows", seconds: 60) { $0.contains("by reason · sorted by rate") && $0.contains("\nWFI ") && $0.contains("\nIRQ ") }
    #expect(running.hasPrefix("hvtrace top — linux — "))
    #expect(running.contains("reason    exits/s*  total"))
    #expect(running.contains("lost 0 events · ring fill cpu0 "))
    try keys("b")
    let byHVC = try waitFor("the hvc grouping", seconds: 5) { $0.contains("by hvc · sorted by rate") }
    #expect(byHVC.contains("PSCI_FEATURES") || byHVC.contains("SMCCC"), "\(byHVC)")
    try keys("s")
    let byTotal = try waitFor("the total order", seconds: 5) { $0.contains("sorted by total") }
    #expect(byTotal.contains("total*"))
    // Rates move between refreshes: the idle guest still exits every few milliseconds.
    _ = try waitFor("a non-zero rate", seconds: 10) { screen in
        screen.split(separator: "\n").contains { $0.hasPrefix("WFI") && !$0.split(separator: " ").dropFirst(2).first!.hasPrefix("0") }
    }
    try keys("q")
    let stopped = try waitFor("the end of the run", seconds: 20) { $0.contains("TOP-EXIT=") }
    #expect(stopped.contains("hvtrace top: stopped (q); trace in \(trace)"), "\(stopped)")
    #expect(stopped.contains("TOP-EXIT=0"))
    // The view counted each exit once: its total is the report's of the recorded trace.
    let headline = try #require(stopped.split(separator: "\n").first { $0.hasPrefix("hvtrace top — linux") })
    let report = try TraceAnalysis.report(path: trace)
    #expect(headline.hasSuffix(", \(report.totals.exits) exits in all"), "\(headline)")
    #expect(report.problems.isEmpty)
}
