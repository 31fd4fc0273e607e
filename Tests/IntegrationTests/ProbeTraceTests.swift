// The hypervisor's trace, end to end: the probe guest runs under the hypervisor in QEMU, the
// trace region is read back from the shared RAM file, and what it holds is checked against what
// the probe says it did (its own summary lines) and what the hypervisor counted.

import Foundation
import HVTrace
import Testing
import TraceFormat

/// Two deterministic runs of the probe, shared by the tests below (each run takes QEMU ~20 s).
let deterministicRunA = Result { try HypervisorRun.probe() }
let deterministicRunB = Result { try HypervisorRun.probe() }

/// Exits recorded in a ring, paired entry → return.
struct PairedExits {
    var countByClass: [UInt8: Int] = [:]
    var latencies: [UInt64] = []
    var markers: [(id: UInt32, value: UInt64)] = []
    var problems: [String] = []

    init(_ events: [TimedEvent]) {
        var open: TimedEvent?
        for event in events {
            switch event.event {
            case let .exitEntry(ec, _, _):
                if let open { problems.append("entry at \(event.timestamp) while the exit from \(open.timestamp) is open") }
                open = event
                countByClass[ec, default: 0] += 1
            case .exitReturn:
                guard let entry = open else {
                    problems.append("return at \(event.timestamp) without an entry")
                    continue
                }
                if event.timestamp <= entry.timestamp {
                    problems.append("latency not positive: entry \(entry.timestamp), return \(event.timestamp)")
                }
                latencies.append(event.timestamp &- entry.timestamp)
                open = nil
            case let .guestMarker(id, value):
                markers.append((id, value))
            default:
                break
            }
        }
        if let open { problems.append("exit from \(open.timestamp) never returned") }
    }
}

@Suite("Hypervisor trace (QEMU)", .serialized,
       .enabled(if: qemuPath != nil, "qemu-system-aarch64 is not installed"))
struct ProbeTraceTests {
    @Test("The trace holds exactly the exits the probe performed, paired, with its markers in order and nothing lost")
    func exitsMatchTheProbe() throws {
        let run = try deterministicRunA.get()
        #expect(run.status == 0, "QEMU exit status; console:\n\(run.console)")
        let performed = try run.fields("PROBE-exits:")
        let hypervisor = try run.fields("hv: vcpu 0")
        let region = try DecodedRegion(run.region)
        #expect(region.lost.allSatisfy { $0 == 0 })
        #expect(region.events.flatMap { $0 }.allSatisfy { if case .lostEvents = $0.event { false } else { true } })
        #expect(UInt64(region.producedRecordCount) == region.produced.reduce(0, +), "produced = decoded")

        // The only VM is VM 0 in the trace (whatever its hardware VMID), so its vCPU 0 is id 0.
        let vcpuIDs = Set(region.events[0].compactMap { if case let .exitEntry(_, _, vcpu) = $0.event { vcpu } else { nil } })
        #expect(vcpuIDs == [0], "exit entries name vCPUs \(vcpuIDs.sorted())")

        let exits = PairedExits(region.events[0])
        #expect(exits.problems.isEmpty, "\(exits.problems.prefix(5))")
        #expect(!exits.latencies.isEmpty)
        let traced = { (ec: UInt8) in UInt64(exits.countByClass[ec] ?? 0) }
        #expect(traced(ExceptionClass.hvc64.rawValue) == performed["hvc"]! - performed["untraced-hvc"]!)
        #expect(traced(ExceptionClass.smc64.rawValue) == performed["smc"]!)
        #expect(traced(ExceptionClass.dataAbortLower.rawValue) == performed["dabt"]!)
        #expect(traced(ExceptionClass.wfx.rawValue) == performed["wfx"]!)
        #expect(traced(ExceptionClass.sysreg.rawValue) == performed["sysreg"]!)
        // Physical IRQs are not the guest's to count: compare with the hypervisor's own counter.
        #expect(traced(AsynchronousExit.irq.rawValue) == hypervisor["irq"]!)
        #expect(UInt64(exits.latencies.count) == hypervisor["exits"]! - performed["untraced-hvc"]!)

        // Markers: id = phase number in order, value = what the phase's summary line counted.
        let hvc = try run.fields("PROBE-hvc:"), psci = try run.fields("PROBE-psci:")
        let mmio = try run.fields("PROBE-mmio:"), abort = try run.fields("PROBE-abort:")
        let isolation = try run.fields("PROBE-isolation:"), timer = try run.fields("PROBE-timer:")
        let sysreg = try run.fields("PROBE-sysreg:")
        let expected: [(UInt32, UInt64)] = [
            (1, hvc["calls"]!), (2, psci["hvc"]! + psci["smc"]!), (3, mmio["reads"]! + mmio["writes"]!),
            (4, abort["aborts"]!), (5, isolation["aborts"]!), (6, timer["interrupts"]!), (7, sysreg["trapped"]!),
        ]
        #expect(exits.markers.map(\.id) == expected.map(\.0))
        #expect(exits.markers.map(\.value) == expected.map(\.1))
        #expect(UInt64(exits.markers.count) == performed["markers"]!)
    }

    @Test("hvtrace record of the probe: at most 4 ring bytes per event (records and page headers), as the report says")
    func probeRecordingStaysWithinFourRingBytesPerEvent() throws {
        let output = NSTemporaryDirectory() + "hvtrace-probe-encoding-\(getpid()).hvt"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let run = try HVTraceExecutable.record(guest: "probe", to: output, guestTimeout: 120)
        #expect(run.status == 0, "hvtrace record failed:\n\(run.output.suffix(3000))")
        let report = try TraceAnalysis.report(path: output)
        #expect(report.problems.isEmpty, "the recording is not clean: \(report.problems.map(\.name))")
        let encoding = try #require(report.encoding)
        #expect(encoding.events > 2000, "the probe's trace has \(encoding.events) events")
        #expect(encoding.ringBytesPerEvent <= 4.0,
                "ring bytes/event \(encoding.ringBytesPerEvent) (records only \(encoding.recordBytesPerEvent)), target 4")
        #expect(encoding.fileBytesPerEvent <= 1.5, "file bytes/event \(encoding.fileBytesPerEvent), target 1.5")
    }

    @Test("Two deterministic recordings decode to identical events and timestamps")
    func deterministicRunsAreIdentical() throws {
        let first = try DecodedRegion(try deterministicRunA.get().region)
        let second = try DecodedRegion(try deterministicRunB.get().region)
        #expect(first.producedRecordCount > 1000)
        let a = first.dump, b = second.dump
        if a != b {
            let lineA = a.split(separator: "\n"), lineB = b.split(separator: "\n")
            let index = Array(zip(lineA, lineB)).firstIndex { $0.0 != $0.1 } ?? min(lineA.count, lineB.count)
            Issue.record("dumps differ first at event \(index): \(index < lineA.count ? lineA[index] : "end") vs \(index < lineB.count ? lineB[index] : "end")")
        }
    }

    @Test("A tiny ring with no consumer: produced = decoded + lost, exactly, and produced matches a full run")
    func overflowAccounting() throws {
        let full = try DecodedRegion(try deterministicRunA.get().region)
        let run = try HypervisorRun.probe(bootArguments: ["trace_pages=4"])
        #expect(run.status == 0, "console:\n\(run.console)")
        let region = try DecodedRegion(run.region)
        #expect(region.header.pagesPerCPU == 4)
        let lost = region.lost.reduce(0, +)
        #expect(lost > 0, "the ring must have overflowed")
        #expect(region.produced.reduce(0, +) == UInt64(region.producedRecordCount) + lost)
        // The run is deterministic, so it produced exactly the events of the run with a large ring.
        #expect(region.produced.reduce(0, +) == UInt64(full.producedRecordCount))
        // The hypervisor's console summary says the same.
        let printed = try run.fields("hv: trace cpu 0")
        #expect(printed["produced"] == region.produced[0])
        #expect(printed["lost"] == region.lost[0])
    }

    @Test("After a deliberate panic the flight recorder still holds the last events, the marker before the panic included")
    func flightRecorderSurvivesPanic() throws {
        let run = try HypervisorRun.probe(bootArguments: ["panic=1", "trace=overwrite"],
                                          stopWhen: { $0.contains("read it with `hvtrace snapshot`") })
        #expect(run.console.contains("hv PANIC: requested by the guest"))
        #expect(run.console.contains("  x0=0x"), "the panic prints the register dump")
        let region = try DecodedRegion(run.region)
        #expect(region.header.mode == .overwrite)
        let events = region.events[0]
        let panicMarker = try #require(events.lastIndex { if case .guestMarker(0xDEAD, _) = $0.event { true } else { false } },
                                       "the marker written just before the panic call is in the trace")
        let phases = try run.fields("PROBE-done:")["phases"]!
        #expect(events[panicMarker].event == .guestMarker(id: 0xDEAD, value: phases))
        let panicCall = events[(panicMarker + 1)...].contains {
            if case let .hypercall(_, _, functionID) = $0.event { functionID == TraceHypercall.debugPanic } else { false }
        }
        #expect(panicCall, "the debug-panic hypercall follows the marker")
        #expect(events.last?.event == .exitReturn, "the panicking exit was closed before the flush")
    }

    @Test("scripts/test-probe.sh: probe, nimbos-contract, probe-compare and hostile phase lines, exit 0")
    func probeShellTest() throws {
        try buildOnce.get()
        let (status, output) = try runProcess("/bin/sh", ["\(repositoryRoot)/hypervisor/scripts/test-probe.sh"], timeout: 300,
                                              environment: scriptEnvironment)
        #expect(status == 0, "test-probe.sh output:\n\(output)")
        #expect(output.contains("test-probe: all passed"))
    }
}
