// The device tree the hypervisor gives a Linux guest: exactly the hardware the VM has.
//
// Linux finds everything through this DTB (passed in x0, Documentation/arm64/booting.rst): RAM,
// the vCPUs and how to start them (PSCI through HVC), the GICv2 distributor (emulated) and CPU
// interface (the GICV frame, mapped at the guest's GICC address), the architected timer's PPIs, the
// PL011 console and its clock, and /chosen (command line, console, initramfs). The layout follows
// what QEMU's `virt` machine gives Linux (see hypervisor/guests/linux/README.md), minus the devices
// the VM does not have. Embedded-safe: no Foundation, no allocation, typed throws.

/// What the guest's DTB describes. Addresses are guest-physical (IPA).
public struct GuestDeviceTreeConfig {
    /// Guest RAM.
    public var memoryBase: UInt64
    public var memorySize: UInt64
    /// Number of vCPUs; vCPU `n` has MPIDR affinity Aff0 = n (and `reg = <n>` in /cpus).
    public var cpuCount: Int
    /// GICv2 distributor and CPU interface as the guest sees them (IHI 0048B §4.1: the
    /// distributor's 4 KiB page and the CPU interface's two 4 KiB pages).
    public var gicDistributorBase: UInt64 = 0x0800_0000
    public var gicDistributorSize: UInt64 = 0x1000
    public var gicCPUInterfaceBase: UInt64 = 0x0801_0000
    public var gicCPUInterfaceSize: UInt64 = 0x2000
    /// PL011 UART and its SPI number (INTID = 32 + spi).
    public var uartBase: UInt64 = 0x0900_0000
    public var uartSize: UInt64 = 0x1000
    public var uartSPI: UInt32 = 1
    /// The PL011's reference clock (QEMU's virt uses a 24 MHz fixed clock).
    public var uartClockHz: UInt32 = 24_000_000
    /// Initramfs location, if the guest has one: [start, end).
    public var initrdStart: UInt64?
    public var initrdEnd: UInt64?

    public init(memoryBase: UInt64, memorySize: UInt64, cpuCount: Int) {
        self.memoryBase = memoryBase
        self.memorySize = memorySize
        self.cpuCount = cpuCount
    }
}

/// Builds the Linux guest's DTB.
public enum GuestDeviceTree {
    /// phandles referenced by other nodes.
    static let gicPhandle: UInt32 = 1
    static let clockPhandle: UInt32 = 2

    /// GIC interrupt specifier (Linux Documentation/devicetree/bindings/interrupt-controller/arm,gic.yaml):
    /// cell 0 = 0 for SPI, 1 for PPI; cell 1 = number within its type; cell 2 = flags.
    enum InterruptType: UInt32 {
        case spi = 0
        case ppi = 1
    }
    /// Cell 2, bits [3:0]: trigger type. 4 = level-sensitive, active high.
    static let levelHigh: UInt32 = 4

    /// PPIs of the architected timer, in the binding's order (arm,arch_timer.yaml): secure
    /// physical (INTID 29), non-secure physical (30), virtual (27), hypervisor physical (26).
    static let timerPPIs: (UInt32, UInt32, UInt32, UInt32) = (13, 14, 11, 10)

    /// Writes the DTB for `config` (with `bootargs` as /chosen/bootargs) into `buffer` and returns
    /// its size.
    public static func build<Bootargs: Collection>(
        config: GuestDeviceTreeConfig, bootargs: Bootargs, into buffer: UnsafeMutableRawBufferPointer
    ) throws(FDTBuildError) -> Int where Bootargs.Element == UInt8 {
        var fdt = try FDTBuilder(buffer: buffer, stringsCapacity: 512)
        try fdt.beginNode("")
        try fdt.property("#address-cells", u32: 2)
        try fdt.property("#size-cells", u32: 2)
        try fdt.property("compatible", string: "hvtrace,guest-vm")
        try fdt.property("model", string: "hvtrace Linux guest")
        try fdt.property("interrupt-parent", u32: gicPhandle)

        try fdt.beginNode("chosen")
        try fdt.property("bootargs", stringBytes: bootargs)
        // stdout-path = "/pl011@<base>": the console node's full path.
        try fdt.beginProperty("stdout-path")
        try fdt.appendBytes(staticString: "/pl011@")
        try fdt.appendHexDigits(config.uartBase)
        try fdt.appendBytes(CollectionOfOne(UInt8(0)))
        try fdt.endProperty()
        if let start = config.initrdStart, let end = config.initrdEnd {
            try fdt.property("linux,initrd-start", u64: start)
            try fdt.property("linux,initrd-end", u64: end)
        }
        try fdt.endNode()

        try fdt.beginNode("memory", unitAddress: config.memoryBase)
        try fdt.property("device_type", string: "memory")
        try fdt.regProperty(address: config.memoryBase, size: config.memorySize)
        try fdt.endNode()

        try fdt.beginNode("cpus")
        try fdt.property("#address-cells", u32: 1)
        try fdt.property("#size-cells", u32: 0)
        for cpu in 0..<config.cpuCount {
            try fdt.beginNode("cpu", unitAddress: UInt64(cpu))
            try fdt.property("device_type", string: "cpu")
            try fdt.property("compatible", string: "arm,armv8")
            try fdt.property("enable-method", string: "psci")
            // MPIDR_EL1 affinity fields (Arm ARM D19.2.86): Aff0 = vCPU index.
            try fdt.property("reg", u32: UInt32(cpu))
            try fdt.endNode()
        }
        try fdt.endNode()

        // PSCI 1.0 through HVC (DEN0022D; Linux Documentation/devicetree/bindings/arm/psci.yaml).
        try fdt.beginNode("psci")
        try fdt.property("compatible", strings: "arm,psci-1.0", "arm,psci-0.2")
        try fdt.property("method", string: "hvc")
        try fdt.endNode()

        try fdt.beginNode("intc", unitAddress: config.gicDistributorBase)
        try fdt.property("compatible", string: "arm,cortex-a15-gic")
        try fdt.property("#interrupt-cells", u32: 3)
        // No children and no interrupt-map users: 0 address cells (what dtc's checks expect).
        try fdt.property("#address-cells", u32: 0)
        try fdt.emptyProperty("interrupt-controller")
        try fdt.beginProperty("reg")
        try fdt.appendCells(config.gicDistributorBase, count: 2)
        try fdt.appendCells(config.gicDistributorSize, count: 2)
        try fdt.appendCells(config.gicCPUInterfaceBase, count: 2)
        try fdt.appendCells(config.gicCPUInterfaceSize, count: 2)
        try fdt.endProperty()
        try fdt.property("phandle", u32: gicPhandle)
        try fdt.endNode()

        try fdt.beginNode("timer")
        try fdt.property("compatible", string: "arm,armv8-timer")
        // The vCPUs' timers do not stop in WFI: no broadcast timer is needed.
        try fdt.emptyProperty("always-on")
        // GICv2 PPI flags carry a CPU mask in bits [15:8] (arm,gic.yaml).
        let cpuMask = UInt32(truncatingIfNeeded: (1 << min(config.cpuCount, 8)) - 1)
        let ppiFlags = (cpuMask << 8) | levelHigh
        try fdt.beginProperty("interrupts")
        try appendInterrupt(into: &fdt, type: .ppi, number: timerPPIs.0, flags: ppiFlags)
        try appendInterrupt(into: &fdt, type: .ppi, number: timerPPIs.1, flags: ppiFlags)
        try appendInterrupt(into: &fdt, type: .ppi, number: timerPPIs.2, flags: ppiFlags)
        try appendInterrupt(into: &fdt, type: .ppi, number: timerPPIs.3, flags: ppiFlags)
        try fdt.endProperty()
        try fdt.endNode()

        try fdt.beginNode("apb-pclk")
        try fdt.property("compatible", string: "fixed-clock")
        try fdt.property("#clock-cells", u32: 0)
        try fdt.property("clock-frequency", u32: config.uartClockHz)
        try fdt.property("clock-output-names", string: "clk24mhz")
        try fdt.property("phandle", u32: clockPhandle)
        try fdt.endNode()

        try fdt.beginNode("pl011", unitAddress: config.uartBase)
        try fdt.property("compatible", strings: "arm,pl011", "arm,primecell")
        try fdt.regProperty(address: config.uartBase, size: config.uartSize)
        try fdt.beginProperty("interrupts")
        try appendInterrupt(into: &fdt, type: .spi, number: config.uartSPI, flags: levelHigh)
        try fdt.endProperty()
        try fdt.beginProperty("clocks")
        try fdt.appendCell(clockPhandle)
        try fdt.appendCell(clockPhandle)
        try fdt.endProperty()
        try fdt.property("clock-names", strings: "uartclk", "apb_pclk")
        try fdt.endNode()

        try fdt.endNode()
        return try fdt.finish()
    }

    /// Appends one GIC interrupt specifier (3 cells) to the open `interrupts` property.
    private static func appendInterrupt(
        into fdt: inout FDTBuilder, type: InterruptType, number: UInt32, flags: UInt32
    ) throws(FDTBuildError) {
        try fdt.appendCell(type.rawValue)
        try fdt.appendCell(number)
        try fdt.appendCell(flags)
    }
}
