import Foundation
import Testing

@testable import HypervisorModel

/// The Linux guest's DTB: decompiled by `dtc` and compared with the reviewed fixture, and read
/// back with `FDTReader`.
@Suite struct GuestDeviceTreeTests {
    /// The Linux VM of the platform decisions: 256 MiB at IPA 0x4000_0000, 2 vCPUs, initramfs
    /// at IPA 0x4800_0000.
    static func linuxConfig(cpus: Int = 2) -> GuestDeviceTreeConfig {
        var config = GuestDeviceTreeConfig(memoryBase: 0x4000_0000, memorySize: 0x1000_0000, cpuCount: cpus)
        config.initrdStart = 0x4800_0000
        config.initrdEnd = 0x480F_13FD
        return config
    }

    static let bootargs = "console=ttyAMA0 panic=-1"

    static func build(_ config: GuestDeviceTreeConfig, bootargs: String = bootargs) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0xAA, count: 8192)
        let size = try buffer.withUnsafeMutableBytes { raw in
            try GuestDeviceTree.build(config: config, bootargs: bootargs.utf8, into: raw)
        }
        return Array(buffer[0..<size])
    }

    @Test(.enabled(if: TestSupport.hasDTC))
    func matchesReviewedFixture() throws {
        let blob = try Self.build(Self.linuxConfig())
        let source = try TestSupport.decompile(blob)
        let expected = try String(contentsOf: TestSupport.fixture("guest-linux-2cpu.dts"), encoding: .utf8)
        #expect(source == expected)
    }

    @Test(arguments: [1, 2, 4, 8])
    func describesEveryCPU(cpus: Int) throws {
        let blob = try Self.build(Self.linuxConfig(cpus: cpus))
        try blob.withUnsafeBytes { raw in
            let reader = try FDTReader(blob: raw)
            for cpu in 0..<cpus {
                let node = try #require(try reader.node(atPath: "/cpus")).self
                var child = try reader.firstChild(of: node)
                var found = false
                while let current = child {
                    let reg = try #require(try reader.property(of: current, named: "reg"))
                    if try reader.cell(of: reg, at: 0) == UInt32(cpu) {
                        found = true
                        let method = try #require(try reader.property(of: current, named: "enable-method"))
                        #expect(String(decoding: reader.string(of: method), as: UTF8.self) == "psci")
                    }
                    child = try reader.nextSibling(of: current)
                }
                #expect(found, "no cpu with reg = <\(cpu)>")
            }
            // The GICv2 PPI flags carry one bit per CPU in [15:8].
            let timer = try #require(try reader.node(compatible: "arm,armv8-timer"))
            let interrupts = try #require(try reader.property(of: timer, named: "interrupts"))
            #expect(interrupts.length == 48)
            #expect(try reader.cell(of: interrupts, at: 2) == UInt32((1 << cpus) - 1) << 8 | 4)
            #expect(try reader.cell(of: interrupts, at: 7) == 11, "the virtual timer is the third PPI (INTID 27)")
        }
    }

    @Test func readsBackMemoryChosenAndDevices() throws {
        let blob = try Self.build(Self.linuxConfig(), bootargs: "console=ttyAMA0 hvtrace.shell=1")
        try blob.withUnsafeBytes { raw in
            let reader = try FDTReader(blob: raw)
            #expect(reader.totalSize == blob.count)
            let memory = try #require(try reader.node(atPath: "/memory"))
            #expect(String(decoding: try reader.name(of: memory), as: UTF8.self) == "memory@40000000")
            let reg = try #require(try reader.reg(of: memory, index: 0))
            #expect(reg.address == 0x4000_0000 && reg.size == 0x1000_0000)

            let chosen = try #require(try reader.node(atPath: "/chosen"))
            let bootargs = try #require(try reader.property(of: chosen, named: "bootargs"))
            #expect(String(decoding: reader.string(of: bootargs), as: UTF8.self) == "console=ttyAMA0 hvtrace.shell=1")
            let initrdStart = try #require(try reader.property(of: chosen, named: "linux,initrd-start"))
            #expect(try reader.number(of: initrdStart, cellIndex: 0, cellCount: 2) == 0x4800_0000)

            let gic = try #require(try reader.node(compatible: "arm,cortex-a15-gic"))
            #expect(try reader.reg(of: gic, index: 0)! == (0x0800_0000, 0x1000))
            #expect(try reader.reg(of: gic, index: 1)! == (0x0801_0000, 0x2000))
            #expect(try reader.reg(of: gic, index: 2) == nil)
            let uart = try #require(try reader.node(compatible: "arm,primecell"))
            #expect(try reader.reg(of: uart, index: 0)! == (0x0900_0000, 0x1000))
            let psci = try #require(try reader.node(compatible: "arm,psci-0.2"))
            let method = try #require(try reader.property(of: psci, named: "method"))
            #expect(String(decoding: reader.string(of: method), as: UTF8.self) == "hvc")
        }
    }

    @Test func omitsInitrdWhenThereIsNone() throws {
        var config = Self.linuxConfig()
        config.initrdStart = nil
        config.initrdEnd = nil
        let blob = try Self.build(config)
        try blob.withUnsafeBytes { raw in
            let reader = try FDTReader(blob: raw)
            let chosen = try #require(try reader.node(atPath: "/chosen"))
            #expect(try reader.property(of: chosen, named: "linux,initrd-start") == nil)
        }
    }

    @Test func reportsABufferThatIsTooSmall() {
        var buffer = [UInt8](repeating: 0, count: 1024)
        #expect(throws: FDTBuildError.self) {
            try buffer.withUnsafeMutableBytes { raw in
                _ = try GuestDeviceTree.build(config: Self.linuxConfig(), bootargs: "x".utf8, into: raw)
            }
        }
    }
}
