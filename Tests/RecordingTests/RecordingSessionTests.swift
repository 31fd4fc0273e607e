// RecordingSession end to end with a stand-in for QEMU: a shell script that receives the real QEMU
// command line, writes a prepared trace region into the RAM file named by mem-path= (pages first,
// header last, as a booting hypervisor would) and exits. Also the failure paths: the RAM file is
// gone and the child reaped whichever way the run ends.

import Foundation
import Testing
@testable import HVTrace
import TraceFormat
import HypervisorModel

/// A temporary repository root with placeholder hypervisor and probe images, and a fake QEMU script.
struct FakeQEMUSetup {
    let root: String

    init(script: String) throws {
        root = NSTemporaryDirectory() + "hvtrace-session-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root + "/hypervisor/build", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: root + "/hypervisor/build/hv.elf", contents: Data([0]))
        _ = FileManager.default.createFile(atPath: root + "/hypervisor/build/probe.bin", contents: Data([0]))
        _ = FileManager.default.createFile(atPath: qemu, contents: Data(("#!/bin/sh\n" + script).utf8),
                                       attributes: [.posixPermissions: 0o755])
    }

    var qemu: String { root + "/fake-qemu.sh" }

    func options(timeout: Double? = nil) -> RecordingOptions {
        var options = RecordingOptions(guest: .probe)
        options.repositoryRoot = root
        options.buildHypervisor = false
        options.qemuExecutable = qemu
        options.timeout = timeout
        options.quiet = true
        options.regionWaitSeconds = 10
        return options
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }
}

/// Shell that extracts the RAM file path from the QEMU arguments into $ram.
let findRAMFile = """
    for a in "$@"; do case "$a" in memory-backend-file,*) ram=${a#*mem-path=}; ram=${ram%%,*};; esac; done
    [ -f "$ram" ] || exit 9

    """

/// The RAM file a failed run names in its error.
func ramFilePath(of error: RecordingError) -> String? {
    if case let .regionNeverAppeared(path, _, _, _) = error { return path }
    return nil
}

/// One at a time: the tests look at /dev/shm and install signal handlers.
@Suite(.serialized)
struct RecordingSessionTests {
    @Test("record with a stand-in QEMU: region found, drained into .hvt, guest 'powered off', RAM file gone")
    func sessionRecordsRegionWrittenByFakeQEMU() throws {
        // The region the fake hypervisor "boots" with: 2 CPUs, events committed and flushed.
        let region = TestRegion(mode: .stopWhenFull, cpus: 2, pageSize: 4096, pagesPerCPU: 16)
        var producers = [region.producer(cpu: 0), region.producer(cpu: 1)]
        for n in 0..<UInt64(5000) { producers[Int(n % 2)].record(numberedEvent(n), timestamp: n) }
        producers[0].flush()
        producers[1].flush()
        let regionFile = NSTemporaryDirectory() + "hvtrace-region-\(getpid())"
        _ = FileManager.default.createFile(atPath: regionFile, contents: Data(bytes: region.base, count: region.length))
        defer { unlink(regionFile) }
        let headerBlock = Int(TraceRegion.ramFileOffset) / 4096
        let setup = try FakeQEMUSetup(script: findRAMFile + """
            dd if=\(regionFile) of="$ram" bs=4096 skip=1 seek=\(headerBlock + 1) conv=notrunc status=none
            # The end status first: hvtrace unlinks the RAM file once the header is there.
            printf 'HVSTATUS\\002\\000\\000\\000' | dd of="$ram" bs=1 seek=\(RunEndStatus.ramFileOffset) conv=notrunc status=none
            dd if=\(regionFile) of="$ram" bs=4096 count=1 seek=\(headerBlock) conv=notrunc status=none
            sleep 0.3
            exit 0
            """)
        defer { setup.remove() }
        let output = setup.root + "/out.hvt"
        let result = try RecordingSession.run(setup.options(timeout: 20)) { header, metadata in
            #expect(metadata.qemuCommandLine.contains("memory-backend-file,id=ram,size=1G,mem-path=/dev/shm/hvtrace-"))
            return try HVTFileOutput(path: output, region: header, metadata: metadata)
        }
        #expect(result.end == .guestPoweredOff)
        #expect(result.exitCode == 0)
        let consumer = try #require(result.consumer)
        #expect(consumer.totalCounters.decodedEvents == 5000)
        #expect(consumer.exitsByClass[0x16] == 1250)
        #expect(result.ramFilePath.hasPrefix("/dev/shm/hvtrace-\(getpid())-"))
        #expect(access(result.ramFilePath, F_OK) != 0)

        var events = 0
        let source = try PageSource(path: output)
        source.forEachEvent { _ in events += 1 }
        #expect(events == 5000)
        #expect(source.header.qemuCommandLine == result.command.commandLine)
        let summary = RecordingSummary.render(consumer, end: result.end, output: output, seconds: result.seconds)
        #expect(summary.contains("HVC64"))
        #expect(summary.contains("lost: 0 events dropped"))
    }

    @Test("QEMU killed mid-recording: the run reports it, and the .hvt file holds every committed page and the open one")
    func sessionSurvivesQEMUKilled() throws {
        let region = TestRegion(mode: .overwrite, cpus: 1, pageSize: 4096, pagesPerCPU: 16)
        var producer = region.producer()
        for n in 0..<UInt64(3000) { producer.record(numberedEvent(n), timestamp: n) }  // last page left open
        let regionFile = NSTemporaryDirectory() + "hvtrace-region-killed-\(getpid())"
        _ = FileManager.default.createFile(atPath: regionFile, contents: Data(bytes: region.base, count: region.length))
        defer { unlink(regionFile) }
        let headerBlock = Int(TraceRegion.ramFileOffset) / 4096
        let setup = try FakeQEMUSetup(script: findRAMFile + """
            dd if=\(regionFile) of="$ram" bs=4096 skip=1 seek=\(headerBlock + 1) conv=notrunc status=none
            # The end status first: hvtrace unlinks the RAM file once the header is there.
            printf 'HVSTATUS\\002\\000\\000\\000' | dd of="$ram" bs=1 seek=\(RunEndStatus.ramFileOffset) conv=notrunc status=none
            dd if=\(regionFile) of="$ram" bs=4096 count=1 seek=\(headerBlock) conv=notrunc status=none
            sleep 0.3
            kill -KILL $$
            """)
        defer { setup.remove() }
        let output = setup.root + "/killed.hvt"
        let result = try RecordingSession.run(setup.options(timeout: 20)) { header, metadata in
            try HVTFileOutput(path: output, region: header, metadata: metadata)
        }
        #expect(result.end == .qemuEnded(.signaled(signal: SIGKILL)))
        #expect(result.exitCode == 1)
        var numbers: [UInt64] = []
        try PageSource(path: output).forEachEvent { timed in numbers.append(try #require(number(of: timed.event))) }
        #expect(numbers == Array(0..<3000))
        #expect(access(result.ramFilePath, F_OK) != 0)
    }

    @Test("a QEMU that exits without a region: typed error, no RAM file, no output file")
    func sessionWithoutRegionFailsCleanly() throws {
        let setup = try FakeQEMUSetup(script: findRAMFile + "exit 3\n")
        defer { setup.remove() }
        do {
            _ = try RecordingSession.run(setup.options()) { header, metadata in
                Issue.record("no output may be opened without a region")
                return try HVTFileOutput(path: setup.root + "/never.hvt", region: header, metadata: metadata)
            }
            Issue.record("the run did not fail")
        } catch let error as RecordingError {
            guard case let .regionNeverAppeared(_, offset, _, qemuExited) = error else {
                Issue.record("unexpected error \(error)")
                return
            }
            #expect(offset == TraceRegion.ramFileOffset)
            #expect(qemuExited)
            #expect(access(try #require(ramFilePath(of: error)), F_OK) != 0)
        }
        #expect(!FileManager.default.fileExists(atPath: setup.root + "/never.hvt"))
    }

    @Test("a QEMU that hangs is stopped at --timeout; the RAM file is removed")
    func sessionTimeoutStopsQEMU() throws {
        let setup = try FakeQEMUSetup(script: findRAMFile + "exec sleep 60\n")
        defer { setup.remove() }
        let start = Date()
        let error = #expect(throws: RecordingError.self) {
            _ = try RecordingSession.run(setup.options(timeout: 0.5)) { header, metadata in
                try HVTFileOutput(path: setup.root + "/never.hvt", region: header, metadata: metadata)
            }
        }
        // SIGTERM must work at once (the child must not inherit a blocked signal mask): well under the 5 s SIGKILL grace.
        #expect(Date().timeIntervalSince(start) < 3)
        let path = try #require(error.flatMap(ramFilePath))
        #expect(access(path, F_OK) != 0)
        #expect(error?.description.contains("gave up after") == true)
    }

    @Test("--keep-ram-file leaves the RAM file for snapshot")
    func sessionKeepsRAMFileWhenAsked() throws {
        let setup = try FakeQEMUSetup(script: findRAMFile + "exit 0\n")
        defer { setup.remove() }
        var options = setup.options()
        options.keepRAMFile = true
        let error = #expect(throws: RecordingError.self) {
            _ = try RecordingSession.run(options) { header, metadata in
                try HVTFileOutput(path: setup.root + "/never.hvt", region: header, metadata: metadata)
            }
        }
        let path = try #require(error.flatMap(ramFilePath))
        #expect(access(path, F_OK) == 0)
        unlink(path)
    }
}

@Test("QEMU command shape", arguments: [false, true])
func qemuCommandShape(deterministic: Bool) {
    let command = QEMUCommand(ramFilePath: "/dev/shm/hvtrace-1-abc", hypervisorELF: "hypervisor/build/hv.elf", guest: .linux,
                              images: [LoadedImage(path: "Image", address: 0x5020_0000),
                                       LoadedImage(path: "initramfs.cpio.gz", address: 0x5800_0000)],
                              extraBootArguments: ["initrd_size=0xf140d"], deterministic: deterministic)
    let expected = "qemu-system-aarch64 -M virt,virtualization=on,gic-version=2,memory-backend=ram"
        + (deterministic ? ",dtb-randomness=off" : "")
        + " -cpu cortex-a72 -smp 2 -m 1G -object memory-backend-file,id=ram,size=1G,mem-path=/dev/shm/hvtrace-1-abc,share=on"
        + " -nographic -no-reboot -kernel hypervisor/build/hv.elf"
        + " -device loader,file=Image,addr=0x50200000,force-raw=on"
        + " -device loader,file=initramfs.cpio.gz,addr=0x58000000,force-raw=on"
        + " -append 'guest=linux vcpus=2 mem=0x10000000 initrd_size=0xf140d'"
        + (deterministic ? " -icount shift=0,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm" : "")
    #expect(command.commandLine == expected)
}
