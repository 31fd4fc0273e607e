// The hostile probe (issue 8 §3): 100 000 random hypercalls, bad PSCI calls, loads/stores to
// every kind of IPA and trapped or UNDEFINED system instructions against the hypervisor, in
// virtual time (deterministic, independent of host load). The guest checks each result whose
// outcome is fixed, its own memory and that the hypervisor still answers; this test checks the
// guest's verdict, that nothing panicked, and that QEMU exited 0 (SYSTEM_OFF).

import Foundation
import Testing

/// One run of `run-qemu.sh hostile` with extra boot arguments (HV_BOOTARGS).
func runHostile(bootArguments: String = "") throws -> (status: Int32, console: String) {
    try buildOnce.get()
    // 100 000 operations take ~4 s of host time under TCG here; 120 s is the bound for a loaded CI machine.
    let (status, output) = try runProcess("/bin/sh", ["\(repositoryRoot)/hypervisor/scripts/run-qemu.sh", "hostile",
                                      "--no-build", "--", "-icount", "shift=0,sleep=off"],
                          timeout: 120, environment: scriptEnvironment.merging(["HV_BOOTARGS": bootArguments]) { $1 })
    return (status, output)
}

/// The `HOSTILE-done:` line's `key=value` fields, and whether it ends in `ok`.
func hostileSummary(_ console: String) throws -> (fields: [String: UInt64], ok: Bool) {
    guard let line = console.split(separator: "\n").first(where: { $0.hasPrefix("HOSTILE-done:") }) else {
        throw IntegrationFailure(description: "no HOSTILE-done line in the console:\n\(console)")
    }
    var fields: [String: UInt64] = [:]
    for word in line.split(separator: " ") {
        let parts = word.split(separator: "=", maxSplits: 1)
        if parts.count == 2, let value = UInt64(parts[1]) { fields[String(parts[0])] = value }
    }
    return (fields, line.hasSuffix(" ok"))
}

@Suite("Hostile guest (QEMU)", .serialized,
       .enabled(if: qemuPath != nil, "qemu-system-aarch64 is not installed"))
struct HostileGuestTests {
    @Test("100 000 hostile operations: no panic, every checked result right, memory intact, hypervisor responsive, exit 0")
    func defaultRun() throws {
        let (status, console) = try runHostile()
        #expect(status == 0, "QEMU exit status; console:\n\(console)")
        #expect(!console.lowercased().contains("panic"), "console:\n\(console)")
        for problem in ["HOSTILE-unexpected:", "PROBE-unexpected:", "hv: unexpected guest exception"] {
            #expect(!console.contains(problem), "console:\n\(console)")
        }
        let summary = try hostileSummary(console)
        #expect(summary.ok, "console:\n\(console)")
        let fields = summary.fields
        #expect(fields["ops"] == 100_000)
        let classes = ["hvc", "smc", "psci", "mem", "sysreg", "misc"].map { fields[$0] ?? 0 }
        #expect(classes.reduce(0, +) == 100_000, "per-class counts add up to ops: \(fields)")
        #expect(classes.allSatisfy { $0 > 1000 }, "every class exercised: \(fields)")
        #expect((fields["aborts"] ?? 0) > 1000 && (fields["undefs"] ?? 0) > 1000 && (fields["errors"] ?? 0) > 1000)
        #expect(fields["unexpected"] == 0 && fields["memory-intact"] == 1 && fields["responsive"] == 1)
        #expect(console.contains("hv: guest requested SYSTEM_OFF"))
    }

    @Test("Another seed: passes too, and the same seed gives the same run twice")
    func seedIsDeterministic() throws {
        let first = try runHostile(bootArguments: "seed=7 ops=20000")
        let second = try runHostile(bootArguments: "seed=7 ops=20000")
        #expect(first.status == 0 && second.status == 0, "console:\n\(first.console)")
        let a = try hostileSummary(first.console)
        let b = try hostileSummary(second.console)
        #expect(a.ok && a.fields["ops"] == 20_000, "console:\n\(first.console)")
        #expect(a.fields == b.fields)
        let hypervisorCounts = { (console: String) in console.split(separator: "\n").first { $0.hasPrefix("hv: vcpu 0") } }
        #expect(hypervisorCounts(first.console) != nil && hypervisorCounts(first.console) == hypervisorCounts(second.console))
        // A different seed is a different run.
        let other = try hostileSummary(try runHostile(bootArguments: "seed=8 ops=20000").console)
        #expect(other.ok && other.fields != a.fields, "seed 8: \(other.fields), seed 7: \(a.fields)")
    }
}
