// The virtio-mmio transport as `mmio` records of device `virtio-blk` describe it: the register
// layout of the virtio 1.2 specification, §4.2.2 "MMIO Device Register Layout" (the non-legacy,
// Version 2 interface), the virtio-blk configuration fields (§5.2.4), and where QEMU's `virt`
// machine puts its 32 transports. One definition for the hypervisor (which registers it forwards,
// which transport the disk is on) and the host tool (register and interrupt names).

/// How the driver may access a transport register (§4.2.2: R, W or RW).
public enum VirtioRegisterAccess: UInt8, Sendable {
    case readOnly, writeOnly, readWrite

    @inlinable public var allowsRead: Bool { self != .writeOnly }
    @inlinable public var allowsWrite: Bool { self != .readOnly }
}

/// The transport registers below the device configuration space (offset 0x100), by offset. The
/// driver accesses them with aligned 32-bit loads and stores only (§4.2.2.2).
public enum VirtioMMIORegister: UInt16, CaseIterable, Sendable {
    case magicValue = 0x000
    case version = 0x004
    case deviceID = 0x008
    case vendorID = 0x00C
    case deviceFeatures = 0x010
    case deviceFeaturesSel = 0x014
    case driverFeatures = 0x020
    case driverFeaturesSel = 0x024
    case queueSel = 0x030
    case queueNumMax = 0x034
    case queueNum = 0x038
    case queueReady = 0x044
    case queueNotify = 0x050
    case interruptStatus = 0x060
    case interruptACK = 0x064
    case status = 0x070
    case queueDescLow = 0x080
    case queueDescHigh = 0x084
    case queueDriverLow = 0x090
    case queueDriverHigh = 0x094
    case queueDeviceLow = 0x0A0
    case queueDeviceHigh = 0x0A4
    case shmSel = 0x0AC
    case shmLenLow = 0x0B0
    case shmLenHigh = 0x0B4
    case shmBaseLow = 0x0B8
    case shmBaseHigh = 0x0BC
    case queueReset = 0x0C0
    case configGeneration = 0x0FC

    /// The magic value at offset 0 ("virt" little-endian) and the Version register's value for
    /// the non-legacy interface.
    public static let magic: UInt32 = 0x7472_6976
    public static let modernVersion: UInt32 = 2
    /// Offset of the device-specific configuration space, and the size of one transport's window.
    public static let configurationSpace: UInt16 = 0x100
    public static let windowSize: UInt16 = 0x200
    /// InterruptStatus bits (§4.2.2): a used buffer was returned, the configuration changed.
    public static let usedBufferInterrupt: UInt32 = 1 << 0
    public static let configurationChangeInterrupt: UInt32 = 1 << 1

    /// The register at `offset`, nil for offsets §4.2.2 leaves unassigned (or the configuration space).
    @inlinable
    public init?(offset: UInt64) {
        guard offset < UInt64(VirtioMMIORegister.configurationSpace), offset & 3 == 0 else { return nil }
        self.init(rawValue: UInt16(offset))
    }

    /// The specification's name of the register.
    public var name: StaticString {
        switch self {
        case .magicValue: return "MagicValue"
        case .version: return "Version"
        case .deviceID: return "DeviceID"
        case .vendorID: return "VendorID"
        case .deviceFeatures: return "DeviceFeatures"
        case .deviceFeaturesSel: return "DeviceFeaturesSel"
        case .driverFeatures: return "DriverFeatures"
        case .driverFeaturesSel: return "DriverFeaturesSel"
        case .queueSel: return "QueueSel"
        case .queueNumMax: return "QueueNumMax"
        case .queueNum: return "QueueNum"
        case .queueReady: return "QueueReady"
        case .queueNotify: return "QueueNotify"
        case .interruptStatus: return "InterruptStatus"
        case .interruptACK: return "InterruptACK"
        case .status: return "Status"
        case .queueDescLow: return "QueueDescLow"
        case .queueDescHigh: return "QueueDescHigh"
        case .queueDriverLow: return "QueueDriverLow"
        case .queueDriverHigh: return "QueueDriverHigh"
        case .queueDeviceLow: return "QueueDeviceLow"
        case .queueDeviceHigh: return "QueueDeviceHigh"
        case .shmSel: return "SHMSel"
        case .shmLenLow: return "SHMLenLow"
        case .shmLenHigh: return "SHMLenHigh"
        case .shmBaseLow: return "SHMBaseLow"
        case .shmBaseHigh: return "SHMBaseHigh"
        case .queueReset: return "QueueReset"
        case .configGeneration: return "ConfigGeneration"
        }
    }

    /// R, W or RW, as §4.2.2 lists it.
    public var access: VirtioRegisterAccess {
        switch self {
        case .magicValue, .version, .deviceID, .vendorID, .deviceFeatures, .queueNumMax, .interruptStatus,
             .shmLenLow, .shmLenHigh, .shmBaseLow, .shmBaseHigh, .configGeneration:
            return .readOnly
        case .deviceFeaturesSel, .driverFeatures, .driverFeaturesSel, .queueSel, .queueNum, .queueNotify,
             .interruptACK, .queueDescLow, .queueDescHigh, .queueDriverLow, .queueDriverHigh, .queueDeviceLow,
             .queueDeviceHigh, .shmSel:
            return .writeOnly
        case .queueReady, .status, .queueReset:
            return .readWrite
        }
    }
}

/// The fields of virtio-blk's configuration space (`struct virtio_blk_config`, virtio 1.2 §5.2.4),
/// by offset from the start of the configuration space (transport offset 0x100).
public enum VirtioBlockConfigField {
    /// The field that starts at `offset` (its name, as the specification spells it), nil inside or
    /// past the fields.
    public static func name(offset: UInt64) -> StaticString? {
        switch offset {
        case 0x00: return "capacity"
        case 0x04: return "capacity_hi"  // the upper half, read with a second 32-bit load
        case 0x08: return "size_max"
        case 0x0C: return "seg_max"
        case 0x10: return "geometry.cylinders"
        case 0x12: return "geometry.heads"
        case 0x13: return "geometry.sectors"
        case 0x14: return "blk_size"
        case 0x18: return "physical_block_exp"
        case 0x19: return "alignment_offset"
        case 0x1A: return "min_io_size"
        case 0x1C: return "opt_io_size"
        case 0x20: return "writeback"
        case 0x22: return "num_queues"
        case 0x24: return "max_discard_sectors"
        case 0x28: return "max_discard_seg"
        case 0x2C: return "discard_sector_alignment"
        case 0x30: return "max_write_zeroes_sectors"
        case 0x34: return "max_write_zeroes_seg"
        case 0x38: return "write_zeroes_may_unmap"
        case 0x3C: return "max_secure_erase_sectors"
        case 0x40: return "max_secure_erase_seg"
        case 0x44: return "secure_erase_sector_alignment"
        default: return nil
        }
    }
}

/// QEMU `virt`'s virtio-mmio transports (hw/arm/virt.c: VIRT_MMIO at 0x0a00_0000, 0x200 apart,
/// SPIs 16 + n, i.e. INTIDs 48 + n). virt.c creates transports 0…31 in order, but each new bus is
/// prepended to the bus list, and `-device` takes the first free bus of that list: the first
/// `-device virtio-…-device` lands on transport 31, the highest address, the next on 30, and so on.
public enum QEMUVirtioTransports {
    public static let count = 32
    public static let firstBase: UInt64 = 0x0A00_0000
    public static let stride: UInt64 = UInt64(VirtioMMIORegister.windowSize)
    /// INTID of transport 0 (SPI 16).
    public static let firstInterrupt: UInt32 = 48
    /// The transport the guest's disk lands on: hvtrace's QEMU command line attaches exactly one
    /// virtio device, the disk, so it is the first free one, transport 31.
    public static let diskTransport = 31

    @inlinable public static func base(transport: Int) -> UInt64 { firstBase + UInt64(transport) * stride }
    @inlinable public static func interrupt(transport: Int) -> UInt32 { firstInterrupt + UInt32(transport) }

    /// The transport whose INTID is `intid`, nil for other interrupts.
    @inlinable public static func transport(interrupt intid: UInt32) -> Int? {
        intid >= firstInterrupt && intid < firstInterrupt + UInt32(count) ? Int(intid - firstInterrupt) : nil
    }
}
