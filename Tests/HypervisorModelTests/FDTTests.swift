import Foundation
import Testing

@testable import HypervisorModel

/// `FDTReader` on the DTBs QEMU made (Tests/Fixtures/good/qemu-virt-*.dtb) and `FDTBuilder` on
/// small trees, including every error path.
@Suite struct FDTReaderTests {
    /// Runs `body` with a reader over the fixture `name`.
    func withFixture<Result>(_ name: String, _ body: (FDTReader) throws -> Result) throws -> Result {
        let blob = try TestSupport.readFixture(name)
        return try blob.withUnsafeBytes { raw in try body(try FDTReader(blob: raw)) }
    }

    func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func hypervisorViewOfQEMU() throws {
        try withFixture("qemu-virt-hv.dtb") { reader in
            #expect(reader.totalSize == 7686)
            #expect(try reader.memoryReservation(at: 0) == nil)
            let root = try reader.root()
            #expect(try reader.cellCounts(of: root) == (2, 2))

            let memory = try #require(try reader.node(atPath: "/memory"))
            #expect(try reader.reg(of: memory, index: 0)! == (0x4000_0000, 0x4000_0000))

            let chosen = try #require(try reader.node(atPath: "/chosen"))
            let bootargs = try #require(try reader.property(of: chosen, named: "bootargs"))
            #expect(text(reader.string(of: bootargs)) == "guest=linux")
            let stdout = try #require(try reader.property(of: chosen, named: "stdout-path"))
            #expect(text(reader.string(of: stdout)) == "/pl011@9000000")

            // With virtualization=on the GIC node has GICD, GICC, GICH, GICV and the maintenance PPI.
            let gic = try #require(try reader.node(compatible: "arm,cortex-a15-gic"))
            #expect(text(try reader.name(of: gic)) == "intc@8000000")
            let expected: [(UInt64, UInt64)] = [
                (0x0800_0000, 0x10000), (0x0801_0000, 0x10000), (0x0803_0000, 0x10000), (0x0804_0000, 0x10000),
            ]
            for (index, region) in expected.enumerated() {
                #expect(try reader.reg(of: gic, index: index)! == region)
            }
            #expect(try reader.reg(of: gic, index: 4) == nil)
            let maintenance = try #require(try reader.property(of: gic, named: "interrupts"))
            #expect(try reader.cell(of: maintenance, at: 1) == 9)

            let psci = try #require(try reader.node(compatible: "arm,psci-1.0"))
            let method = try #require(try reader.property(of: psci, named: "method"))
            #expect(text(reader.string(of: method)) == "smc")

            let uart = try #require(try reader.node(compatible: "arm,pl011"))
            #expect(try reader.reg(of: uart, index: 0)! == (0x0900_0000, 0x1000))
            let timer = try #require(try reader.node(compatible: "arm,armv8-timer"))
            let interrupts = try #require(try reader.property(of: timer, named: "interrupts"))
            #expect(try (0..<4).map { try reader.cell(of: interrupts, at: $0 * 3 + 1) } == [13, 14, 11, 10])
        }
    }

    @Test func linuxViewOfQEMUHasInitrd() throws {
        try withFixture("qemu-virt-linux-direct.dtb") { reader in
            let chosen = try #require(try reader.node(atPath: "/chosen"))
            let start = try #require(try reader.property(of: chosen, named: "linux,initrd-start"))
            let end = try #require(try reader.property(of: chosen, named: "linux,initrd-end"))
            // QEMU writes them as one cell each.
            #expect(start.length == 4)
            #expect(try reader.number(of: start, cellIndex: 0, cellCount: 1) == 0x4800_0000)
            #expect(try reader.number(of: end, cellIndex: 0, cellCount: 1) == 0x480F_13FD)
            let psci = try #require(try reader.node(atPath: "/psci"))
            #expect(text(reader.string(of: try #require(try reader.property(of: psci, named: "method")))) == "hvc")
        }
    }

    @Test func walksCPUsWithUnitAddressesAndNestedNodes() throws {
        try withFixture("qemu-virt-hv.dtb") { reader in
            let cpus = try #require(try reader.node(atPath: "/cpus"))
            #expect(try reader.cellCounts(of: cpus) == (1, 0))
            var names: [String] = []
            var child = try reader.firstChild(of: cpus)
            while let node = child {
                names.append(text(try reader.name(of: node)))
                child = try reader.nextSibling(of: node)
            }
            #expect(names == ["cpu-map", "cpu@0", "cpu@1"])
            let cpu1 = try #require(try reader.node(atPath: "/cpus/cpu@1"))
            let reg = try #require(try reader.property(of: cpu1, named: "reg"))
            #expect(try reader.cell(of: reg, at: 0) == 1)
            #expect(try reader.node(atPath: "/cpus/cpu-map/socket0/cluster0/core1") != nil)
            #expect(try reader.node(atPath: "/cpus/cpu@2") == nil)
            #expect(try reader.node(atPath: "/no-such-node") == nil)
        }
    }

    @Test func findsEveryCompatibleMatchInOrder() throws {
        try withFixture("qemu-virt-hv.dtb") { reader in
            var count = 0
            var previous: FDTNode?
            while let node = try reader.node(compatible: "virtio,mmio", after: previous) {
                if let previous { #expect(node.offset > previous.offset) }
                previous = node
                count += 1
            }
            #expect(count == 32)
        }
    }

    @Test func listsPropertiesInOrder() throws {
        try withFixture("qemu-virt-hv.dtb") { reader in
            let uart = try #require(try reader.node(atPath: "/pl011@9000000"))
            var names: [String] = []
            var property = try reader.firstProperty(of: uart)
            while let current = property {
                names.append(text(try reader.name(of: current)))
                property = try reader.nextProperty(after: current)
            }
            #expect(names == ["clock-names", "clocks", "interrupts", "reg", "compatible"])
        }
    }

    /// Damaged copies of the QEMU blob: each must give the named error, never a trap.
    @Test(arguments: [
        ("bad magic", 0, UInt32(0x1234_5678), FDTReadError.badMagic(found: 0x1234_5678)),
        ("totalsize past the end", 4, UInt32(0x10_0000), FDTReadError.truncated(totalSize: 0x10_0000, available: 7686)),
        ("future format", 24, UInt32(18), FDTReadError.unsupportedVersion(version: 17, lastCompatible: 18)),
        ("strings block past totalsize", 32, UInt32(0x1000), FDTReadError.blockOutOfRange(offset: 0x1c44, size: 0x1000, totalSize: 7686)),
    ])
    func rejectsDamagedHeaders(label: String, offset: Int, value: UInt32, expected: FDTReadError) throws {
        var blob = try TestSupport.readFixture("qemu-virt-hv.dtb")
        withUnsafeBytes(of: value.bigEndian) { bytes in blob.replaceSubrange(offset..<(offset + 4), with: bytes) }
        let error = blob.withUnsafeBytes { raw in
            #expect(throws: FDTReadError.self) { _ = try FDTReader(blob: raw) }
        }
        #expect(error == expected, "\(label)")
    }

    @Test func rejectsACorruptStructureToken() throws {
        var blob = try TestSupport.readFixture("qemu-virt-hv.dtb")
        // The first token of the structure block (root FDT_BEGIN_NODE at 0x40) becomes 0x77.
        blob.replaceSubrange(0x40..<0x44, with: [0, 0, 0, 0x77])
        blob.withUnsafeBytes { raw in
            #expect(throws: FDTReadError.badToken(offset: 0x40, token: 0x77)) {
                _ = try FDTReader(blob: raw).root()
            }
        }
    }

    @Test func rejectsAPropertyLongerThanTheStructureBlock() throws {
        var blob = try TestSupport.readFixture("qemu-virt-hv.dtb")
        blob.withUnsafeBytes { raw in
            let reader = try! FDTReader(blob: raw)
            let first = try! reader.firstProperty(of: try! reader.root())!
            #expect(first.offset == 0x48)
        }
        // Length field of the root's first property.
        blob.replaceSubrange(0x4C..<0x50, with: [0x7F, 0, 0, 0])
        blob.withUnsafeBytes { raw in
            #expect(throws: FDTReadError.structureOverrun(offset: 0x48)) {
                let reader = try FDTReader(blob: raw)
                _ = try reader.node(atPath: "/chosen")
            }
        }
    }

    @Test func rejectsShortValues() throws {
        try withFixture("qemu-virt-hv.dtb") { reader in
            let chosen = try #require(try reader.node(atPath: "/chosen"))
            let bootargs = try #require(try reader.property(of: chosen, named: "bootargs"))
            #expect(throws: FDTReadError.valueTooShort(propertyOffset: bootargs.offset, length: 12, needed: 16)) {
                _ = try reader.cell(of: bootargs, at: 3)
            }
        }
    }
}

@Suite struct FDTBuilderTests {
    /// Builds with `body` into a 4 KiB buffer and returns the blob.
    func build(stringsCapacity: Int = 256, _ body: (inout FDTBuilder) throws(FDTBuildError) -> Void) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0xEE, count: 4096)
        let size = try buffer.withUnsafeMutableBytes { raw in
            var builder = try FDTBuilder(buffer: raw, stringsCapacity: stringsCapacity)
            try body(&builder)
            return try builder.finish()
        }
        return Array(buffer[0..<size])
    }

    @Test func writesHeaderAndEmptyRoot() throws {
        let blob = try build { (fdt) throws(FDTBuildError) in
            try fdt.beginNode("")
            try fdt.endNode()
        }
        // Header (40) + one terminating reservation entry (16) + BEGIN_NODE "" (8) + END_NODE + END.
        #expect(blob.count == 40 + 16 + 8 + 4 + 4)
        func word(_ offset: Int) -> UInt32 {
            blob[offset..<(offset + 4)].reduce(0) { $0 << 8 | UInt32($1) }
        }
        #expect(word(0) == 0xD00D_FEED)
        #expect(word(4) == UInt32(blob.count))
        #expect(word(8) == 56, "off_dt_struct")
        #expect(word(12) == UInt32(blob.count), "off_dt_strings: empty, at the end")
        #expect(word(16) == 40, "off_mem_rsvmap")
        #expect(word(20) == 17)
        #expect(word(24) == 16)
        #expect(word(32) == 0, "size_dt_strings")
        #expect(word(36) == 16, "size_dt_struct")
        #expect(Array(blob[56..<72]) == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 9])
    }

    @Test(.enabled(if: TestSupport.hasDTC))
    func everyPropertyKindDecompiles() throws {
        let blob = try build { (fdt) throws(FDTBuildError) in
            try fdt.addMemoryReservation(address: 0x4FE0_0000, size: 0x1000)
            try fdt.beginNode("")
            try fdt.property("#address-cells", u32: 2)
            try fdt.property("#size-cells", u32: 2)
            try fdt.beginNode("node", unitAddress: 0)
            try fdt.emptyProperty("flag")
            try fdt.property("one", u32: 0xDEAD_BEEF)
            try fdt.property("wide", u64: 0x1_2345_6789)
            try fdt.property("list", cells: [1, 2, 3] as [UInt32])
            try fdt.property("text", string: "hello")
            try fdt.property("runtime-text", stringBytes: Array("abc".utf8))
            try fdt.property("pair", strings: "first", "second")
            try fdt.regProperty(address: 0xFFFF_0000_1000, size: 0x2000)
            try fdt.beginProperty("bytes")
            try fdt.appendBytes([0xAB, 0xCD, 0xEF] as [UInt8])
            try fdt.endProperty()
            try fdt.endNode()
            try fdt.beginNode("big", unitAddress: 0xFFFF_0000_1000)
            try fdt.regProperty(address: 0xFFFF_0000_1000, size: 0x10)
            try fdt.property("one", u32: 1)  // a reused name: one entry in the strings block
            try fdt.endNode()
            try fdt.endNode()
        }
        let expected = """
            /dts-v1/;

            /memreserve/\t0x000000004fe00000 0x0000000000001000;
            / {
            \t#address-cells = <0x02>;
            \t#size-cells = <0x02>;

            \tnode@0 {
            \t\tflag;
            \t\tone = <0xdeadbeef>;
            \t\twide = <0x01 0x23456789>;
            \t\tlist = <0x01 0x02 0x03>;
            \t\ttext = "hello";
            \t\truntime-text = "abc";
            \t\tpair = "first\\0second";
            \t\treg = <0xffff 0x1000 0x00 0x2000>;
            \t\tbytes = [ab cd ef];
            \t};

            \tbig@ffff00001000 {
            \t\treg = <0xffff 0x1000 0x00 0x10>;
            \t\tone = <0x01>;
            \t};
            };

            """
        let actual = try TestSupport.decompile(blob)
        #expect(actual == expected, "dtc printed:\n\(actual)")
    }

    @Test func deduplicatesPropertyNames() throws {
        let blob = try build { (fdt) throws(FDTBuildError) in
            try fdt.beginNode("")
            try fdt.property("compatible", string: "a")
            try fdt.beginNode("child")
            try fdt.property("compatible", string: "b")
            try fdt.property("reg", u32: 1)
            try fdt.endNode()
            try fdt.endNode()
        }
        let stringsSize = blob[32..<36].reduce(0) { $0 << 8 | Int($1) }
        #expect(stringsSize == "compatible\0reg\0".utf8.count)
    }

    @Test func readerReadsWhatBuilderWrote() throws {
        let blob = try build { (fdt) throws(FDTBuildError) in
            try fdt.addMemoryReservation(address: 0x1000, size: 0x2000)
            try fdt.addMemoryReservation(address: 0x8000, size: 0x100)
            try fdt.beginNode("")
            try fdt.beginNode("a")
            try fdt.beginNode("deep", unitAddress: 0x10)
            try fdt.property("value", u64: 0xAABB_CCDD_EEFF_0011)
            try fdt.endNode()
            try fdt.endNode()
            try fdt.beginNode("b")
            try fdt.endNode()
            try fdt.endNode()
        }
        try blob.withUnsafeBytes { raw in
            let reader = try FDTReader(blob: raw)
            #expect(try reader.memoryReservation(at: 0)! == (0x1000, 0x2000))
            #expect(try reader.memoryReservation(at: 1)! == (0x8000, 0x100))
            #expect(try reader.memoryReservation(at: 2) == nil)
            let deep = try #require(try reader.node(atPath: "/a/deep"))
            let value = try #require(try reader.property(of: deep, named: "value"))
            #expect(try reader.number(of: value, cellIndex: 0, cellCount: 2) == 0xAABB_CCDD_EEFF_0011)
            let a = try #require(try reader.node(atPath: "/a"))
            let b = try #require(try reader.nextSibling(of: a))
            #expect(String(decoding: try reader.name(of: b), as: UTF8.self) == "b")
            #expect(try reader.nextSibling(of: b) == nil)
            #expect(try reader.firstChild(of: b) == nil)
        }
    }

    @Test func rejectsMisuse() throws {
        #expect(throws: FDTBuildError.endNodeWithoutOpenNode(offset: 56)) {
            _ = try build { (fdt) throws(FDTBuildError) in try fdt.endNode() }
        }
        #expect(throws: FDTBuildError.propertyOutsideNode(offset: 56)) {
            _ = try build { (fdt) throws(FDTBuildError) in try fdt.property("x", u32: 1) }
        }
        #expect(throws: FDTBuildError.unclosedNodes(depth: 2)) {
            _ = try build { (fdt) throws(FDTBuildError) in
                try fdt.beginNode("")
                try fdt.beginNode("child")
            }
        }
        #expect(throws: FDTBuildError.reservationAfterNodes) {
            _ = try build { (fdt) throws(FDTBuildError) in
                try fdt.beginNode("")
                try fdt.addMemoryReservation(address: 0, size: 1)
            }
        }
        #expect(throws: FDTBuildError.propertyState(offset: 76)) {
            _ = try build { (fdt) throws(FDTBuildError) in
                try fdt.beginNode("")
                try fdt.beginProperty("open")
                try fdt.endNode()
            }
        }
        // A second root node.
        #expect(throws: FDTBuildError.propertyOutsideNode(offset: 68)) {
            _ = try build { (fdt) throws(FDTBuildError) in
                try fdt.beginNode("")
                try fdt.endNode()
                try fdt.beginNode("")
            }
        }
    }

    @Test func reportsSpaceExhaustion() throws {
        #expect(throws: FDTBuildError.stringsAreaFull(needed: 11, capacity: 8)) {
            _ = try build(stringsCapacity: 8) { (fdt) throws(FDTBuildError) in
                try fdt.beginNode("")
                try fdt.property("compatible", string: "x")
            }
        }
        var small = [UInt8](repeating: 0, count: 128)
        let error = small.withUnsafeMutableBytes { raw in
            #expect(throws: FDTBuildError.self) {
                var fdt = try FDTBuilder(buffer: raw, stringsCapacity: 16)
                try fdt.beginNode("")
                for _ in 0..<20 { try fdt.property("p", u32: 0) }
            }
        }
        guard case .outOfSpace(_, _, let limit) = error else {
            Issue.record("expected outOfSpace, got \(String(describing: error))")
            return
        }
        #expect(limit == 112)
        var tiny = [UInt8](repeating: 0, count: 40)
        tiny.withUnsafeMutableBytes { raw in
            #expect(throws: FDTBuildError.bufferTooSmall(capacity: 40, minimum: 60)) {
                _ = try FDTBuilder(buffer: raw, stringsCapacity: 0)
            }
        }
    }
}
