import Testing

@testable import HypervisorModel

/// The emulated GICv2 distributor (IHI 0048B §4.3): register semantics as a guest sees them,
/// and the list-register interface.
@Suite struct VGICDistributorTests {
    typealias R = GICDistributorRegister

    /// Word read helper.
    func read(_ gic: VGICDistributor, _ offset: Int, vcpu: Int = 0) -> UInt32 {
        gic.read(offset: offset, size: 4, vcpu: vcpu)
    }

    @discardableResult
    func write(_ gic: VGICDistributor, _ offset: Int, _ value: UInt32, vcpu: Int = 0) -> VGICUpdate {
        gic.write(offset: offset, size: 4, value: value, vcpu: vcpu)
    }

    func deliverable(_ gic: VGICDistributor, vcpu: Int, slots: Int = 8) -> [VGICDeliverable] {
        var buffer = [VGICDeliverable](
            repeating: VGICDeliverable(interrupt: 0xFFFF, priority: 0, sourceVCPU: 0, group1: false, levelSensitive: false),
            count: slots)
        let count = buffer.withUnsafeMutableBufferPointer { gic.pendingDeliverable(vcpu: vcpu, into: $0) }
        return Array(buffer[0..<count])
    }

    /// Every word of the register file as `vcpu` reads it.
    func snapshot(_ gic: VGICDistributor, vcpu: Int = 0) -> [UInt32] {
        stride(from: 0, to: R.size, by: 4).map { gic.read(offset: $0, size: 4, vcpu: vcpu) }
    }

    // MARK: Identification and reset

    @Test(arguments: [(64, 1, UInt32(0x01)), (128, 2, UInt32(0x23)), (96, 4, UInt32(0x62)), (256, 8, UInt32(0xE7))])
    func typeRegisterReportsLinesAndCPUs(interrupts: Int, vcpus: Int, expected: UInt32) {
        let gic = VGICDistributor(interruptCount: interrupts, vcpuCount: vcpus)
        #expect(read(gic, R.type) == expected)
    }

    @Test(arguments: [
        (R.implementerIdentification, UInt32(0x4800_043B)),
        (R.peripheralID2, UInt32(0x2B)),
        (R.componentID0, UInt32(0x0D)), (R.componentID0 + 4, UInt32(0xF0)),
        (R.componentID0 + 8, UInt32(0x05)), (R.componentID0 + 12, UInt32(0xB1)),
        (R.control, UInt32(0)),
        (R.configurationBase, UInt32(0xAAAA_AAAA)),  // SGIs: edge
        (R.configurationBase + 4, UInt32(0)),  // PPIs: level
        (R.setEnableBase, UInt32(0x0000_FFFF)),  // SGIs always enabled
        (R.targetsBase, UInt32(0x0101_0101)),  // vCPU 0 reads its own bit
    ])
    func resetAndIdentificationValues(offset: Int, expected: UInt32) {
        let gic = VGICDistributor(interruptCount: 128, vcpuCount: 2)
        #expect(read(gic, offset) == expected)
    }

    @Test func identificationRegistersAreReadOnly() {
        let gic = VGICDistributor(interruptCount: 128, vcpuCount: 2)
        let before = snapshot(gic)
        for offset in [R.type, R.implementerIdentification, R.peripheralID2, R.componentID0, R.configurationBase, R.configurationBase + 4] {
            let update = write(gic, offset, 0x5A5A_5A5A)
            #expect(update.accepted)
            #expect(update.vcpusToUpdate == 0)
        }
        #expect(snapshot(gic) == before)
    }

    /// Reserved offsets and registers past ITLinesNumber: RAZ/WI (IHI 0048B §4.1.2).
    @Test(arguments: [0x00C, 0x010, 0x040, 0x07C, 0x090, 0x110, 0x1FC, 0x210, 0x4FC, 0x8FC, 0xC20, 0xD00, 0xE00, 0xEFC, 0xF04, 0xF0C, 0xF30, 0xFCC, 0xFD0, 0xFE0, 0xFE4, 0xFEC])
    func reservedOffsetsReadZeroAndIgnoreWrites(offset: Int) {
        // 128 INTIDs: word registers exist for words 0-3, priority/target bytes for 0x400-0x47F.
        let gic = VGICDistributor(interruptCount: 128, vcpuCount: 2)
        let before = snapshot(gic) + snapshot(gic, vcpu: 1)
        #expect(read(gic, offset) == 0)
        let update = write(gic, offset, 0xFFFF_FFFF)
        #expect(update.accepted)
        #expect(update == VGICUpdate())
        #expect(read(gic, offset) == 0)
        #expect(snapshot(gic) + snapshot(gic, vcpu: 1) == before)
    }

    /// Byte accesses only where Table 4-1 allows them; no halfwords; aligned words only.
    @Test(arguments: [
        (R.control, 1, false), (R.setEnableBase, 1, false), (R.priorityBase + 3, 1, true), (R.targetsBase + 33, 1, true),
        (R.clearSGIPendingBase + 1, 1, true), (R.setSGIPendingBase + 15, 1, true), (R.configurationBase + 1, 1, false),
        (R.priorityBase, 2, false), (R.priorityBase + 2, 4, false), (R.softwareInterrupt, 4, true), (0x1000, 4, false),
        (-4, 4, false),
    ])
    func accessValidity(offset: Int, size: Int, valid: Bool) {
        #expect(VGICDistributor.isValidAccess(offset: offset, size: size) == valid)
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 1)
        let update = gic.write(offset: offset, size: size, value: 0xFFFF_FFFF, vcpu: 0)
        #expect(update.accepted == valid)
        if !valid { #expect(gic.read(offset: offset, size: size, vcpu: 0) == 0) }
    }

    // MARK: Control

    @Test func controlEnableUpdatesEveryVCPU() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 3)
        #expect(write(gic, R.control, 0xFFFF_FFFF).vcpusToUpdate == 0b111)
        #expect(read(gic, R.control) == 1, "only Enable is implemented")
        #expect(write(gic, R.control, 1).vcpusToUpdate == 0, "no change, nothing to update")
        #expect(write(gic, R.control, 0).vcpusToUpdate == 0b111)
    }

    // MARK: Enable, pending, active, group bits

    @Test(arguments: [R.setEnableBase, R.setActiveBase, R.groupBase])
    func setAndClearRegistersForSPIs(setBase: Int) {
        let gic = VGICDistributor(interruptCount: 128, vcpuCount: 2)
        let clearBase = setBase == R.groupBase ? R.groupBase : setBase + 0x80
        write(gic, setBase + 8, 0x8000_0011)  // INTIDs 64, 68, 95
        #expect(read(gic, setBase + 8) == 0x8000_0011)
        #expect(read(gic, clearBase + 8) == 0x8000_0011, "set and clear registers read the same state")
        #expect(read(gic, setBase + 8, vcpu: 1) == 0x8000_0011, "SPIs are not banked")
        if setBase == R.groupBase {
            write(gic, setBase + 8, 0x0000_0010)
            #expect(read(gic, setBase + 8) == 0x10, "IGROUPR is a plain read/write register")
        } else {
            write(gic, setBase + 8, 0x0000_0100)
            #expect(read(gic, setBase + 8) == 0x8000_0111, "writing 0 bits to a set register changes nothing")
            write(gic, clearBase + 8, 0x8000_0001)
            #expect(read(gic, setBase + 8) == 0x0000_0110)
        }
    }

    @Test func enableUpdateReportsChangedInterrupts() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 2)
        _ = gic.write(offset: R.targetsBase + 33, size: 1, value: 0x02, vcpu: 0)  // INTID 33 (PL011) -> vCPU 1
        let enable = write(gic, R.setEnableBase + 4, 0b110)  // INTIDs 33, 34
        #expect(enable.firstInterrupt == 32)
        #expect(enable.newlyEnabled == 0b110)
        #expect(enable.vcpusToUpdate == 0b10, "INTID 34 targets nobody; 33 goes to vCPU 1")
        let disable = write(gic, R.clearEnableBase + 4, 0b011)
        #expect(disable.newlyDisabled == 0b010)
        #expect(disable.newlyEnabled == 0)
    }

    @Test func privateInterruptsAreBankedPerVCPU() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 2)
        // vCPU 1 enables its virtual timer PPI (27) and gives it priority 0xA0.
        let update = write(gic, R.setEnableBase, 1 << 27, vcpu: 1)
        #expect(update.vcpusToUpdate == 0b10)
        gic.write(offset: R.priorityBase + 27, size: 1, value: 0xA0, vcpu: 1)
        #expect(read(gic, R.setEnableBase, vcpu: 1) == 0x0800_FFFF)
        #expect(read(gic, R.setEnableBase, vcpu: 0) == 0x0000_FFFF)
        #expect(gic.read(offset: R.priorityBase + 27, size: 1, vcpu: 1) == 0xA0)
        #expect(gic.read(offset: R.priorityBase + 27, size: 1, vcpu: 0) == 0)
        // Active bits of private interrupts are banked too.
        write(gic, R.setActiveBase, 1 << 27, vcpu: 0)
        #expect(read(gic, R.setActiveBase, vcpu: 0) == 1 << 27)
        #expect(read(gic, R.setActiveBase, vcpu: 1) == 0)
    }

    @Test func softwareInterruptEnablesArePermanentlySet() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 1)
        let update = write(gic, R.clearEnableBase, 0xFFFF_FFFF)
        #expect(update.newlyDisabled == 0)
        #expect(read(gic, R.setEnableBase) == 0x0000_FFFF)
    }

    @Test func pendingRegistersFollowEdgeAndLevelRules() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 1)
        write(gic, R.targetsBase + 40, 0x0101_0101)  // INTIDs 40-43 -> vCPU 0
        // Level-sensitive SPI 40 (reset configuration): pending while the line is asserted.
        var update = gic.setLineLevel(interrupt: 40, asserted: true, vcpu: 0)
        #expect(update.newlyPending == 1 && update.firstInterrupt == 40 && update.vcpusToUpdate == 1)
        #expect(read(gic, R.setPendingBase + 4) == 1 << 8)
        write(gic, R.clearPendingBase + 4, 1 << 8)
        #expect(read(gic, R.setPendingBase + 4) == 1 << 8, "ICPENDR cannot clear an asserted level line")
        update = gic.setLineLevel(interrupt: 40, asserted: false, vcpu: 0)
        #expect(update.newlyPending == 0 && update.vcpusToUpdate == 1)
        #expect(read(gic, R.setPendingBase + 4) == 0)

        // Edge-triggered SPI 41: a pulse latches pending; ICPENDR clears it.
        write(gic, R.configurationBase + 8, 0b10 << 18)
        #expect(read(gic, R.configurationBase + 8) == 0b10 << 18)
        _ = gic.setLineLevel(interrupt: 41, asserted: true, vcpu: 0)
        #expect(read(gic, R.setPendingBase + 4) == 0, "an edge line's level alone is not pending")
        _ = gic.raise(interrupt: 41, vcpu: 0)
        #expect(read(gic, R.setPendingBase + 4) == 1 << 9)
        update = write(gic, R.clearPendingBase + 4, 1 << 9)
        #expect(read(gic, R.setPendingBase + 4) == 0)
        #expect(update.vcpusToUpdate == 1)

        // ISPENDR sets the latch; SGI bits of ISPENDR0/ICPENDR0 are read-only.
        update = write(gic, R.setPendingBase + 4, 1 << 10)
        #expect(update.newlyPending == 1 << 10)
        write(gic, R.setPendingBase, 0xFFFF_FFFF)
        #expect(read(gic, R.setPendingBase) == 0xFFFF_0000)
        write(gic, R.clearPendingBase, 0xFFFF_FFFF)
        #expect(read(gic, R.setPendingBase) == 0)
    }

    @Test func configurationOfSPIsKeepsOnlyTheEdgeBit() {
        let gic = VGICDistributor(interruptCount: 128, vcpuCount: 1)
        write(gic, R.configurationBase + 8, 0xFFFF_FFFF)
        #expect(read(gic, R.configurationBase + 8) == 0xAAAA_AAAA, "bit 2n of each field is reserved")
        write(gic, R.configurationBase + 0x1C, 0x8000_0002)  // INTIDs 112 and 127
        #expect(read(gic, R.configurationBase + 0x1C) == 0x8000_0002)
        write(gic, R.configurationBase + 0x20, 0xFFFF_FFFF)  // past 128 INTIDs
        #expect(read(gic, R.configurationBase + 0x20) == 0)
    }

    // MARK: Byte registers

    @Test(arguments: [0, 16, 27, 32, 33, 63])
    func priorityBytesKeepFiveBits(interrupt: Int) {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 1)
        gic.write(offset: R.priorityBase + interrupt, size: 1, value: 0xA7, vcpu: 0)
        #expect(gic.read(offset: R.priorityBase + interrupt, size: 1, vcpu: 0) == 0xA0)
        let word = read(gic, R.priorityBase + interrupt & ~3)
        #expect(word == UInt32(0xA0) << (8 * UInt32(interrupt % 4)), "byte n of the word is INTID 4k+n")
    }

    @Test func priorityWordWritesEveryByte() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 2)
        let update = write(gic, R.priorityBase + 32, 0x1122_3344)
        #expect(update.firstInterrupt == 32)
        for (index, expected) in [UInt32(0x40), 0x30, 0x20, 0x10].enumerated() {
            #expect(gic.read(offset: R.priorityBase + 32 + index, size: 1, vcpu: 0) == expected)
            #expect(gic.read(offset: R.priorityBase + 32 + index, size: 1, vcpu: 1) == expected, "SPI priorities are shared")
        }
        #expect(read(gic, R.priorityBase + 32) == 0x1020_3040)
    }

    @Test(arguments: 0..<4)
    func privateTargetsReadTheAccessingVCPU(vcpu: Int) {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 4)
        let own = UInt32(1) << UInt32(vcpu)
        for word in 0..<8 {
            #expect(read(gic, R.targetsBase + word * 4, vcpu: vcpu) == own * 0x0101_0101)
        }
        write(gic, R.targetsBase + 28, 0xFFFF_FFFF, vcpu: vcpu)
        #expect(read(gic, R.targetsBase + 28, vcpu: vcpu) == own * 0x0101_0101, "read-only")
    }

    @Test func spiTargetsAreMaskedAndRerouted() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 2)
        var update = gic.write(offset: R.targetsBase + 33, size: 1, value: 0xFF, vcpu: 0)
        #expect(gic.read(offset: R.targetsBase + 33, size: 1, vcpu: 0) == 0x03, "only implemented vCPUs")
        #expect(update.rerouted == 1 && update.firstInterrupt == 33 && update.vcpusToUpdate == 0b01)
        update = gic.write(offset: R.targetsBase + 33, size: 1, value: 0x02, vcpu: 0)
        #expect(update.rerouted == 1 && update.vcpusToUpdate == 0b11, "old and new vCPU both refresh")
        update = gic.write(offset: R.targetsBase + 33, size: 1, value: 0x02, vcpu: 0)
        #expect(update.rerouted == 0 && update.vcpusToUpdate == 0)
        update = write(gic, R.targetsBase + 32, 0x0000_0100)  // 33 -> vCPU 0, 32/34/35 -> nobody
        #expect(update.firstInterrupt == 32 && update.rerouted == 0b10 && update.vcpusToUpdate == 0b11)
    }

    // MARK: SGIs

    /// GICD_SGIR TargetListFilter (IHI 0048B §4.3.15) with 4 vCPUs.
    @Test(arguments: [
        (0b00, UInt8(0b0110), 0, UInt8(0b0110)),  // listed CPUs
        (0b00, UInt8(0xF0), 0, UInt8(0)),  // unimplemented CPUs only: nothing
        (0b01, UInt8(0), 2, UInt8(0b1011)),  // all but the sender
        (0b10, UInt8(0xFF), 3, UInt8(0b1000)),  // the sender only
        (0b11, UInt8(0xFF), 0, UInt8(0)),  // reserved
    ])
    func softwareInterruptTargets(filter: UInt32, list: UInt8, source: Int, expected: UInt8) {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 4)
        let update = write(gic, R.softwareInterrupt, filter << 24 | UInt32(list) << 16 | 5, vcpu: source)
        #expect(update.vcpusToUpdate == expected)
        if filter == 0b11 {
            #expect(update.softwareInterrupt == nil)
        } else {
            #expect(update.softwareInterrupt == VGICSoftwareInterrupt(interrupt: 5, sourceVCPU: UInt8(source), targetVCPUs: expected))
        }
        for target in 0..<4 {
            let pendingFrom = gic.read(offset: R.setSGIPendingBase + 5, size: 1, vcpu: target)
            let targeted = expected & (1 << UInt8(target)) != 0
            #expect(pendingFrom == (targeted ? UInt32(1) << UInt32(source) : 0))
            #expect(read(gic, R.setPendingBase, vcpu: target) == (targeted ? 1 << 5 : 0))
            #expect(read(gic, R.softwareInterrupt, vcpu: target) == 0, "GICD_SGIR is write-only")
        }
    }

    @Test func softwareInterruptPendingBitsPerSource() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 4)
        write(gic, R.softwareInterrupt, 1 << 16 | 3, vcpu: 1)  // SGI 3: 1 -> 0
        write(gic, R.softwareInterrupt, 1 << 16 | 3, vcpu: 2)  // SGI 3: 2 -> 0
        // SPENDSGIR0 byte 3 is SGI 3; bit n = pending from vCPU n.
        #expect(read(gic, R.setSGIPendingBase) == 0b0110 << 24)
        #expect(read(gic, R.clearSGIPendingBase) == 0b0110 << 24)
        // Clear the one from vCPU 1 with a byte write to CPENDSGIR.
        var update = gic.write(offset: R.clearSGIPendingBase + 3, size: 1, value: 0b0010, vcpu: 0)
        #expect(update.vcpusToUpdate == 0b0001)
        #expect(read(gic, R.setSGIPendingBase) == 0b0100 << 24)
        // SPENDSGIR sets, masked to implemented vCPUs; a word write covers SGIs 4-7.
        update = write(gic, R.setSGIPendingBase + 4, 0xF1, vcpu: 0)
        #expect(update.firstInterrupt == 4 && update.newlyPending == 1)
        #expect(gic.read(offset: R.setSGIPendingBase + 4, size: 1, vcpu: 0) == 0x01)
        #expect(gic.read(offset: R.setSGIPendingBase + 4, size: 1, vcpu: 1) == 0, "banked per vCPU")
    }

    // MARK: List-register interface

    @Test func deliversByPriorityThenInterruptID() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 2)
        write(gic, R.control, 1)
        write(gic, R.setEnableBase, 1 << 27 | 1 << 30)
        write(gic, R.setEnableBase + 4, 1 << 1 | 1 << 2)  // 33, 34
        write(gic, R.targetsBase + 32, 0x0000_0101)  // 32, 33 -> vCPU 0 (32 is not enabled)
        _ = gic.write(offset: R.targetsBase + 34, size: 1, value: 0x03, vcpu: 0)  // 34 -> vCPUs 0 and 1: goes to 0
        write(gic, R.priorityBase + 24, 0x8000_0000)  // INTID 27 priority 0x80
        write(gic, R.priorityBase + 28, 0x0000_0080)  // INTID 28 priority 0x80 (not enabled); 30 stays 0
        write(gic, R.priorityBase + 32, 0x0040_4000)  // 33: 0x40, 34: 0x40
        gic.write(offset: R.priorityBase + 1, size: 1, value: 0x10, vcpu: 0)  // SGI 1: 0x10
        _ = gic.setLineLevel(interrupt: 27, asserted: true, vcpu: 0)
        _ = gic.setLineLevel(interrupt: 30, asserted: true, vcpu: 0)
        _ = gic.setLineLevel(interrupt: 32, asserted: true, vcpu: 0)
        _ = gic.setLineLevel(interrupt: 33, asserted: true, vcpu: 0)
        _ = gic.raise(interrupt: 34, vcpu: 0)
        write(gic, R.softwareInterrupt, 1 << 16 | 1, vcpu: 1)  // SGI 1 from vCPU 1
        write(gic, R.softwareInterrupt, 1 << 16 | 1, vcpu: 0)  // SGI 1 from vCPU 0

        let all = deliverable(gic, vcpu: 0)
        #expect(all.map(\.interrupt) == [30, 1, 1, 33, 34, 27])
        #expect(all.map(\.priority) == [0, 0x10, 0x10, 0x40, 0x40, 0x80])
        #expect(all[1].sourceVCPU == 0 && all[2].sourceVCPU == 1)
        #expect(all[0].levelSensitive && !all[1].levelSensitive && all[3].levelSensitive)
        #expect(deliverable(gic, vcpu: 0, slots: 3).map(\.interrupt) == [30, 1, 1], "the best ones when slots run out")
        #expect(deliverable(gic, vcpu: 1).isEmpty, "nothing is routed to vCPU 1")

        write(gic, R.control, 0)
        #expect(deliverable(gic, vcpu: 0).isEmpty, "distributor disabled")
    }

    @Test func acknowledgeAndDeactivateALevelInterrupt() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 2)
        write(gic, R.control, 1)
        write(gic, R.setEnableBase, 1 << 27, vcpu: 1)
        _ = gic.setLineLevel(interrupt: 27, asserted: true, vcpu: 1)
        #expect(deliverable(gic, vcpu: 1).map(\.interrupt) == [27])
        #expect(deliverable(gic, vcpu: 0).isEmpty, "PPI 27 of vCPU 1 only")

        let acknowledged1 = gic.acknowledge(vcpu: 1, interrupt: 27)
        #expect(acknowledged1)
        #expect(deliverable(gic, vcpu: 1).isEmpty, "active: not offered twice")
        #expect(read(gic, R.setActiveBase, vcpu: 1) == 1 << 27)
        #expect(read(gic, R.setPendingBase, vcpu: 1) == 1 << 27, "the line is still asserted")

        // Guest handled it but the timer condition still holds: pending again at once.
        var update = gic.deactivate(vcpu: 1, interrupt: 27)
        #expect(update.newlyPending == 1 && update.vcpusToUpdate == 0b10)
        #expect(deliverable(gic, vcpu: 1).map(\.interrupt) == [27])

        // The guest reprogrammed the timer: line low, then deactivation leaves nothing pending.
        let acknowledged2 = gic.acknowledge(vcpu: 1, interrupt: 27)
        #expect(acknowledged2)
        _ = gic.setLineLevel(interrupt: 27, asserted: false, vcpu: 1)
        update = gic.deactivate(vcpu: 1, interrupt: 27)
        #expect(update.newlyPending == 0 && update.vcpusToUpdate == 0)
        #expect(deliverable(gic, vcpu: 1).isEmpty)
        let acknowledged3 = gic.acknowledge(vcpu: 1, interrupt: 27)
        #expect(!acknowledged3, "not pending")
    }

    @Test func acknowledgeSGIsPerSource() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 2)
        write(gic, R.control, 1)
        write(gic, R.softwareInterrupt, 0b10 << 24 | 2, vcpu: 0)  // SGI 2 to self
        let acknowledged4 = gic.acknowledge(vcpu: 0, interrupt: 2, sourceVCPU: 1)
        #expect(!acknowledged4, "not pending from vCPU 1")
        let acknowledged5 = gic.acknowledge(vcpu: 0, interrupt: 2, sourceVCPU: 0)
        #expect(acknowledged5)
        #expect(read(gic, R.setSGIPendingBase, vcpu: 0) == 0)
        #expect(read(gic, R.setActiveBase, vcpu: 0) == 1 << 2)
        write(gic, R.softwareInterrupt, 0b10 << 24 | 2, vcpu: 0)  // again, while active
        #expect(deliverable(gic, vcpu: 0).isEmpty)
        let update = gic.deactivate(vcpu: 0, interrupt: 2)
        #expect(update.newlyPending == 1 && update.vcpusToUpdate == 0b01)
        #expect(deliverable(gic, vcpu: 0).map(\.interrupt) == [2])
    }

    @Test func groupBitReachesTheListRegister() {
        let gic = VGICDistributor(interruptCount: 64, vcpuCount: 1)
        write(gic, R.control, 1)
        write(gic, R.groupBase + 4, 1 << 1)  // INTID 33 group 1
        write(gic, R.setEnableBase + 4, 0b110)
        write(gic, R.targetsBase + 32, 0x0001_0100)
        _ = gic.raise(interrupt: 33, vcpu: 0)
        _ = gic.raise(interrupt: 34, vcpu: 0)
        let list = deliverable(gic, vcpu: 0)
        #expect(list.map(\.interrupt) == [33, 34])
        #expect(list.map(\.group1) == [true, false])
    }
}
