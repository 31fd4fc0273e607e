import Foundation
import Testing
@testable import HVTrace

/// The KVM reference machine's host side: its one QEMU command, the L1 /init's markers, the probe's
/// compare-mode lines and the side-by-side table (golden output from real console logs in
/// Tests/Fixtures/good/kvm/side-by-side, regenerated with HVTRACE_REGENERATE_FIXTURES=1).
struct KVMMachineTests {
    static let repository = FixtureTests.root.deletingLastPathComponent().deletingLastPathComponent().path
    static let logs = FixtureTests.root.appendingPathComponent("good/kvm/side-by-side").path

    @Test("The default machine: nVHE cortex-a72, GICv2, the L1 Image and initramfs, deterministic switches")
    func defaultCommand() {
        var options = KVMMachineOptions()
        options.repositoryRoot = "/repo"
        let command = KVMMachineCommand(options)
        #expect(command.executable == "qemu-system-aarch64")
        #expect(command.arguments == [
            "-M", "virt,virtualization=on,gic-version=2,dtb-randomness=off", "-cpu", "cortex-a72", "-smp", "2", "-m", "1G",
            "-nographic", "-no-reboot", "-kernel", "/repo/cache/guests/linux/Image", "-initrd", "/repo/cache/kvm/initramfs.cpio",
            "-append", "console=ttyAMA0 rdinit=/init loglevel=4 randomize_kstack_offset=off hvkvm.run=probe-compare hvkvm.gic=v2 hvkvm.ftrace=off",
            "-icount", "shift=0,sleep=off", "-rtc", "base=2024-01-01T00:00:00,clock=vm",
        ])
    }

    @Test("VHE, ftrace and the workload options reach QEMU's -cpu and the L1 command line")
    func variantsAndOptions() {
        var options = KVMMachineOptions()
        options.variant = .vhe
        options.workload = .linux
        options.ftrace = true
        options.captureFormat = .trace
        options.events = "kvm:kvm_exit,kvm:kvm_entry"
        options.traceClock = "mono"
        options.bufferKilobytes = 4096
        options.iterations = 200
        options.haltPollNanoseconds = 0
        options.deterministic = false
        let arguments = KVMMachineCommand(options).arguments
        #expect(arguments[arguments.firstIndex(of: "-cpu")! + 1] == "max,pauth-impdef=on")
        #expect(arguments[arguments.firstIndex(of: "-M")! + 1] == "virt,virtualization=on,gic-version=2")
        #expect(!arguments.contains("-icount"))
        #expect(arguments[arguments.firstIndex(of: "-append")! + 1] ==
            "console=ttyAMA0 rdinit=/init loglevel=4 randomize_kstack_offset=off hvkvm.run=linux hvkvm.gic=v2 hvkvm.ftrace=on "
            + "hvkvm.format=trace hvkvm.clock=mono hvkvm.buffer_kb=4096 hvkvm.dump=1 hvkvm.events=kvm:kvm_exit,kvm:kvm_entry "
            + "hvkvm.iterations=200 hvkvm.halt_poll_ns=0")
    }

    @Test("markers.txt defines every marker, and L1's /init prints each through its variable")
    func markersAreDefinedOnceAndUsed() throws {
        let markers = try KVMMarkers(contentsOf: "\(Self.repository)/hypervisor/guests/kvm/markers.txt")
        #expect(markers.ready == "hvkvm: kvm ready")
        #expect(markers.ftraceBegin == "hvkvm: ftrace begin")
        let initScript = try String(contentsOfFile: "\(Self.repository)/hypervisor/guests/kvm/init", encoding: .utf8)
        for name in ["HVKVM_READY_MARKER", "HVKVM_UNAVAILABLE_MARKER", "HVKVM_RUN_MARKER", "HVKVM_RUN_END_MARKER",
                     "HVKVM_EVENT_IDS_MARKER", "HVKVM_FTRACE_BEGIN_MARKER", "HVKVM_FTRACE_END_MARKER", "HVKVM_DONE_MARKER"] {
            #expect(initScript.contains("$" + name), "init does not print \(name)")
        }
        for value in [markers.ready, markers.unavailable, markers.run, markers.runEnd, markers.eventIDs, markers.ftraceBegin,
                      markers.ftraceEnd, markers.done] {
            #expect(!initScript.contains(value), "init spells '\(value)' itself instead of using markers.txt")
        }
    }

    @Test("A markers file without a marker is refused, naming the line it lacks")
    func incompleteMarkers() throws {
        let directory = TemporaryDirectory()
        defer { directory.cleanup() }
        try "HVKVM_READY_MARKER='ready'\n".write(toFile: directory.path("markers.txt"), atomically: true, encoding: .utf8)
        #expect(throws: KVMMachineError.badMarkers(path: directory.path("markers.txt"), missing: "HVKVM_UNAVAILABLE_MARKER")) {
            _ = try KVMMarkers(contentsOf: directory.path("markers.txt"))
        }
    }

    @Test("A COMPARE-op line: fields, verdict and nanoseconds per operation")
    func compareLine() throws {
        let result = try #require(CompareOperationResult(fields:
            " op=smccc-version-hvc count=1000 ticks=89875 base-ticks=375 freq=62500000 result=0x10001 mismatches=0 ok"))
        #expect(result.name == "smccc-version-hvc")
        #expect(result.result == 0x10001)
        #expect(result.ok)
        #expect(result.nanosecondsPerOperation == 1432.0)  // (89875 - 375) / 1000 × 16 ns
        let timer = try #require(CompareOperationResult(fields:
            " op=timer-irq count=50 ticks=9102 base-ticks=0 freq=62500000 mismatches=1 min=141 max=784 FAILED"))
        #expect(timer.minimumTicks == 141 && timer.maximumTicks == 784 && !timer.ok)
        #expect(CompareOperationResult(fields: " op=x count=1 ticks=2 freq=3 mismatches=0 ok") == nil)  // no base-ticks
    }

    @Test("The side-by-side table from real console logs (ours and KVM, tracing off and on, probe and Linux)")
    func sideBySideTable() throws {
        let markers = try SideBySideMarkers(repositoryRoot: Self.repository)
        let table = SideBySideTable.load(directory: Self.logs, markers: markers, machine: "test machine")
        // Every cell has a figure: each log was read and each operation found.
        for row in table.cells { #expect(!row[1...6].contains("-"), "missing figure in \(row)") }
        for (markdown, name) in [(false, "table.txt"), (true, "table.md")] {
            let rendered = table.rendered(markdown: markdown)
            let path = "\(Self.logs)/\(name)"
            if FixtureTests.regenerate { try rendered.write(toFile: path, atomically: true, encoding: .utf8) }
            #expect(rendered == (try String(contentsOfFile: path, encoding: .utf8)))
        }
    }

    @Test("The table's figures are the logs' numbers: SMCCC_VERSION by HVC, ours and KVM, tracing off")
    func figuresComeFromTheLogs() throws {
        let markers = try SideBySideMarkers(repositoryRoot: Self.repository)
        let ours = ConsoleMeasurements(console: try String(contentsOfFile: "\(Self.logs)/ours-probe-off.console", encoding: .utf8),
                                       markers: markers)
        let kvm = ConsoleMeasurements(console: try String(contentsOfFile: "\(Self.logs)/kvm-probe-off.console", encoding: .utf8),
                                      markers: markers)
        #expect(ours.compareCompleted && kvm.compareCompleted)
        let line = try #require(kvm.operations["smccc-version-hvc"])
        #expect(line.nanosecondsPerOperation == Double(line.ticks - line.baseTicks) / 1000 * 16)
        #expect(ours.operations.count == 8 && kvm.operations.count == 8)
        let linux = ConsoleMeasurements(console: try String(contentsOfFile: "\(Self.logs)/kvm-linux-off.console", encoding: .utf8),
                                        markers: markers)
        #expect(linux.linuxDoneSeconds != nil && linux.linuxInitSeconds! < linux.linuxDoneSeconds!)
    }
}
