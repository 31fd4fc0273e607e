// The arm64 Image header per Documentation/arch/arm64/booting.rst, over crafted headers: flags at
// 0x18 (endianness, page size, placement), text_offset, image_size, the magic; and Debian's real
// Image when the guest images are present.

import Foundation
import Testing
@testable import HypervisorModel

/// A 64-byte header with the given fields (little-endian), magic "ARM\x64" unless `magic` says otherwise.
func craftedImageHeader(textOffset: UInt64 = 0, imageSize: UInt64 = 0x201_0000, flags: UInt64 = 0xA,
                        magic: UInt32 = LinuxImageHeader.magicValue, reserved: UInt64 = 0) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: 64)
    func put(_ value: UInt64, at offset: Int, size: Int = 8) {
        for index in 0..<size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }
    put(0x1400_0000 | 0x91005A4D, at: 0, size: 4)  // code0: "MZ" + a branch, as real Images have
    put(textOffset, at: 0x08)
    put(imageSize, at: 0x10)
    put(flags, at: 0x18)
    put(reserved, at: 0x20); put(reserved, at: 0x28); put(reserved, at: 0x30)
    put(UInt64(magic), at: 0x38, size: 4)
    return bytes
}

func parseHeader(_ bytes: [UInt8]) throws(LinuxImageError) -> LinuxImageHeader {
    let result = bytes.withUnsafeBytes { raw in Result { () throws(LinuxImageError) in try LinuxImageHeader(bytes: raw) } }
    return try result.get()
}

/// Cortex-A72's granules: 4 KiB and 64 KiB, no 16 KiB.
func cortexA72Granules(_ pageSize: LinuxImageHeader.PageSize) -> Bool {
    pageSize.isImplemented(memoryModelFeatures0: LinuxImageHeader.PageSize.cortexA72MemoryModelFeatures0)
}
let roomBeforeInitramfs = GuestMemoryLayout.linuxInitrdIPA - GuestMemoryLayout.linuxImageIPA

struct LinuxImageHeaderTests {
    @Test("flags are read at 0x18: endianness bit 0, page size bits 1-2, placement bit 3",
          arguments: [(flags: UInt64(0x0), bigEndian: false, page: LinuxImageHeader.PageSize.unspecified, anywhere: false),
                      (0x2, false, .size4K, false), (0xA, false, .size4K, true), (0x4, false, .size16K, false),
                      (0x6, false, .size64K, false), (0x1, true, .unspecified, false), (0xB, true, .size4K, true)])
    func flagsDecoded(flags: UInt64, bigEndian: Bool, page: LinuxImageHeader.PageSize, anywhere: Bool) throws {
        let header = try parseHeader(craftedImageHeader(flags: flags))
        #expect(header.flags == flags)
        #expect(header.isBigEndian == bigEndian)
        #expect(header.pageSize == page)
        #expect(header.placeAnywhere == anywhere)
    }

    @Test("what the hypervisor boots: LE, a granule the CPU has, text_offset 0, image_size known and fitting",
          arguments: [UInt64(0x0), 0x2, 0x8, 0xA, 0x6, 0xE])
    func bootable(flags: UInt64) throws {
        try parseHeader(craftedImageHeader(flags: flags)).check(availableBytes: roomBeforeInitramfs, granuleSupported: cortexA72Granules)
    }

    @Test("a non-zero reserved word at 0x30 (where flags were once read) is accepted")
    func reservedWordsIgnored() throws {
        let header = try parseHeader(craftedImageHeader(flags: 0xA, reserved: 0xFFFF_FFFF_FFFF_FFFF))
        #expect(header.flags == 0xA)
        try header.check(availableBytes: roomBeforeInitramfs, granuleSupported: cortexA72Granules)
    }

    @Test("refused headers name the field, its offset and value",
          arguments: [
            (craftedImageHeader(flags: 0x1), LinuxImageError.bigEndian(flags: 0x1), "flags", 0x18, UInt64(0x1)),
            (craftedImageHeader(flags: 0xB), .bigEndian(flags: 0xB), "flags", 0x18, 0xB),
            (craftedImageHeader(flags: 0x4), .unsupportedPageSize(flags: 0x4, pageSize: .size16K), "flags", 0x18, 0x4),
            (craftedImageHeader(flags: 0x10), .reservedFlags(flags: 0x10), "flags", 0x18, 0x10),
            (craftedImageHeader(textOffset: 0x8_0000), .unsupportedTextOffset(0x8_0000), "text_offset", 0x08, 0x8_0000),
            (craftedImageHeader(imageSize: 0), .unknownImageSize, "image_size", 0x10, 0),
            (craftedImageHeader(imageSize: 0x800_0000), .imageTooLarge(imageSize: 0x800_0000, available: 0x7E0_0000), "image_size", 0x10, 0x800_0000),
          ])
    func refused(bytes: [UInt8], expected: LinuxImageError, field: String, offset: Int, value: UInt64) throws {
        let header = try parseHeader(bytes)
        let error = #expect(throws: LinuxImageError.self) {
            try header.check(availableBytes: roomBeforeInitramfs, granuleSupported: cortexA72Granules)
        }
        #expect(error == expected)
        #expect(error.map { "\($0.field.name)" } == field)
        #expect(error?.field.offset == offset)
        #expect(error?.field.value == value)
    }

    @Test("no magic at 0x38, or too short: not an arm64 Image")
    func notAnImage() {
        #expect(throws: LinuxImageError.badMagic(found: 0x1234)) { try parseHeader(craftedImageHeader(magic: 0x1234)) }
        #expect(throws: LinuxImageError.tooShort(length: 63)) { try parseHeader(Array(craftedImageHeader().prefix(63))) }
    }

    @Test("granule support from ID_AA64MMFR0_EL1 (TGran4 [31:28], TGran64 [27:24], TGran16 [23:20])")
    func granules() {
        let a72 = LinuxImageHeader.PageSize.cortexA72MemoryModelFeatures0
        #expect(LinuxImageHeader.PageSize.size4K.isImplemented(memoryModelFeatures0: a72))
        #expect(LinuxImageHeader.PageSize.size64K.isImplemented(memoryModelFeatures0: a72))
        #expect(!LinuxImageHeader.PageSize.size16K.isImplemented(memoryModelFeatures0: a72))
        // A CPU with 16 KiB and no 64 KiB (TGran64 = 0xF, TGran16 = 1).
        let other: UInt64 = 0x0F10_0000
        #expect(LinuxImageHeader.PageSize.size16K.isImplemented(memoryModelFeatures0: other))
        #expect(!LinuxImageHeader.PageSize.size64K.isImplemented(memoryModelFeatures0: other))
    }

    @Test("Debian's arm64 Image: flags 0xa (LE, 4 KiB, anywhere), text_offset 0, bootable",
          .enabled(if: FileManager.default.fileExists(atPath: TestSupport.repositoryRoot.appendingPathComponent("cache/guests/linux/Image").path),
                   "no cache/guests/linux/Image (scripts/setup-guests.sh)"))
    func debianImage() throws {
        let handle = try FileHandle(forReadingFrom: TestSupport.repositoryRoot.appendingPathComponent("cache/guests/linux/Image"))
        defer { try? handle.close() }
        let header = try parseHeader([UInt8](try handle.read(upToCount: 64) ?? Data()))
        #expect(header.flags == 0xA)
        #expect(header.textOffset == 0)
        try header.check(availableBytes: roomBeforeInitramfs, granuleSupported: cortexA72Granules)
    }
}

struct GuestShapeTests {
    static let gib: UInt64 = 1 << 30
    static let mib: UInt64 = 1 << 20

    @Test("shapes the hypervisor runs", arguments: [(1, 256 * mib, 1, gib), (2, 256 * mib, 2, gib), (4, 3 * gib, 4, 3 * gib + 256 * mib),
                                                   (8, 512 * mib, 8, gib), (1, 256 * mib, 4, gib)])
    func accepted(vcpus: Int, ram: UInt64, cpus: Int, machine: UInt64) throws {
        try GuestShape(vcpus: vcpus, guestRAMBytes: ram, physicalCPUs: cpus, machineRAMBytes: machine, guestIsLinux: true).validate()
    }

    @Test("shapes it refuses, with the value", arguments: [
        (GuestShape(vcpus: 3, guestRAMBytes: 256 * mib, physicalCPUs: 2, machineRAMBytes: gib, guestIsLinux: true),
         GuestShapeError.moreVCpusThanPhysicalCPUs(vcpus: 3, physicalCPUs: 2)),
        (GuestShape(vcpus: 9, guestRAMBytes: 256 * mib, physicalCPUs: 9, machineRAMBytes: gib, guestIsLinux: true), .physicalCPUsOutOfRange(9)),
        (GuestShape(vcpus: 0, guestRAMBytes: 256 * mib, physicalCPUs: 2, machineRAMBytes: gib, guestIsLinux: true), .vcpusOutOfRange(0)),
        (GuestShape(vcpus: 1, guestRAMBytes: 128 * mib, physicalCPUs: 1, machineRAMBytes: gib, guestIsLinux: true), .guestRAMOutOfRange(128 * mib)),
        (GuestShape(vcpus: 1, guestRAMBytes: 4 * gib, physicalCPUs: 1, machineRAMBytes: 8 * gib, guestIsLinux: true), .guestRAMOutOfRange(4 * gib)),
        (GuestShape(vcpus: 1, guestRAMBytes: 257 * mib, physicalCPUs: 1, machineRAMBytes: gib, guestIsLinux: true), .guestRAMNotAligned(257 * mib)),
        (GuestShape(vcpus: 1, guestRAMBytes: 256 * mib, physicalCPUs: 2, machineRAMBytes: 256 * mib, guestIsLinux: true),
         .machineRAMTooSmall(machine: 256 * mib, needed: 512 * mib)),
        (GuestShape(vcpus: 2, guestRAMBytes: 128 * mib, physicalCPUs: 2, machineRAMBytes: gib, guestIsLinux: false), .smallGuestHasOneVCpu(2)),
        (GuestShape(vcpus: 1, guestRAMBytes: 256 * mib, physicalCPUs: 2, machineRAMBytes: gib, guestIsLinux: false), .smallGuestRAMFixed(256 * mib)),
        (GuestShape(vcpus: 1, guestRAMBytes: 128 * mib, physicalCPUs: 2, machineRAMBytes: 256 * mib, guestIsLinux: false),
         .machineRAMTooSmall(machine: 256 * mib, needed: 384 * mib)),
    ])
    func refused(shape: GuestShape, expected: GuestShapeError) {
        #expect(throws: expected) { try shape.validate() }
    }
}
