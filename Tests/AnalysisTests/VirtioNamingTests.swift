// Disk I/O in traces: MMIO records of device virtio-blk name virtio-mmio registers (virtio 1.2
// §4.2.2) in dump, report --by device and flame alike, and the disk's SPI has a name of its own.

import Testing
@testable import HVTrace

/// One stage-2 MMIO exit as the hypervisor records it (`DABT_LOW;mmio;<device detail>`).
private func mmioExit(at time: UInt64, device: MMIODevice, offset: UInt32, write: Bool, latency: UInt64) -> [TimedEvent] {
    [TimedEvent(timestamp: time, cpu: 0, event: .exitEntry(ec: 0x24, iss: 0, vcpu: 0)),
     TimedEvent(timestamp: time + 10, cpu: 0, event: .spanEnter(phase: HandlerPhase.mmioEmulation.rawValue)),
     TimedEvent(timestamp: time + 20, cpu: 0, event: .mmioAccess(device: device.rawValue, offset: offset,
                                                                   access: AccessInfo(sizeLog2: 2, isWrite: write), value: 0)),
     TimedEvent(timestamp: time + latency - 10, cpu: 0, event: .spanLeave(phase: HandlerPhase.mmioEmulation.rawValue)),
     TimedEvent(timestamp: time + latency, cpu: 0, event: .exitReturn)]
}

@Test(arguments: [(UInt64(0x050), "QueueNotify"), (0x060, "InterruptStatus"), (0x064, "InterruptACK"),
                  (0x070, "Status"), (0x0FC, "ConfigGeneration"), (0x100, "config.capacity"),
                  (0x114, "config.blk_size"), (0x122, "config.num_queues"), (0x101, "config.0x01"),
                  (0x018, "reg_0x018")])
func virtioRegistersHaveTheirSpecificationNames(offset: UInt64, name: String) {
    #expect(DeviceRegisterNames.name(device: MMIODevice.virtioBlock.rawValue, offset: offset) == name)
    #expect(DeviceRegisterNames.label(device: MMIODevice.virtioBlock.rawValue, offset: offset) == "virtio-blk:\(name)")
    let fields = TraceTextFormatter.fields(.mmioAccess(device: MMIODevice.virtioBlock.rawValue, offset: UInt32(offset),
                                                      access: AccessInfo(sizeLog2: 2, isWrite: true), value: 1))
    #expect(fields == "dev=virtio-blk off=0x\(hex(offset)) reg=\(name) write 4B value=0x1")
}

@Test func everyTransportRegisterHasADistinctNameAndAnAccessDirection() {
    let names = VirtioMMIORegister.allCases.map { "\($0.name)" }
    #expect(Set(names).count == names.count)
    #expect(VirtioMMIORegister(offset: 0x050) == .queueNotify)
    #expect(VirtioMMIORegister(offset: 0x052) == nil, "unaligned offsets name no register")
    #expect(VirtioMMIORegister(offset: 0x100) == nil, "the configuration space is not a transport register")
    #expect(VirtioMMIORegister.queueNotify.access == .writeOnly)
    #expect(VirtioMMIORegister.interruptStatus.access == .readOnly)
    #expect(VirtioMMIORegister.status.access == .readWrite)
}

@Test func devicesWithoutARegisterTableKeepTheirNames() {
    #expect(DeviceRegisterNames.name(device: MMIODevice.gicDistributor.rawValue, offset: 0xF00) == nil)
    #expect(DeviceRegisterNames.label(device: MMIODevice.gicDistributor.rawValue, offset: 0xF00) == "gicd")
    #expect(TraceTextFormatter.fields(.mmioAccess(device: MMIODevice.gicDistributor.rawValue, offset: 0xF00,
                                                   access: AccessInfo(sizeLog2: 2, isWrite: true), value: 2))
        .hasPrefix("dev=gicd off=0xf00 write"))
}

@Test func theDiskTransportIsTheHighestAndItsInterruptIsNamed() {
    #expect(QEMUVirtioTransports.base(transport: QEMUVirtioTransports.diskTransport) == 0x0A00_3E00)
    #expect(QEMUVirtioTransports.interrupt(transport: QEMUVirtioTransports.diskTransport) == 79)
    #expect(InterruptNames.name(79) == "virtio-blk")
    #expect(InterruptNames.name(48) == "virtio_mmio0")
    #expect(InterruptNames.name(80) == "intid80")
}

/// `report --by device`: each virtio register gets its own row, GICD stays one row.
@Test func reportByDeviceGivesEveryVirtioRegisterItsRow() {
    var events: [TimedEvent] = []
    var time: UInt64 = 1_000
    let shape: [(MMIODevice, UInt32, Bool, Int)] = [
        (.virtioBlock, 0x050, true, 5), (.virtioBlock, 0x060, false, 3), (.virtioBlock, 0x064, true, 3),
        (.virtioBlock, 0x100, false, 2), (.gicDistributor, 0xF00, true, 4), (.gicDistributor, 0x100, true, 1),
    ]
    for (device, offset, write, count) in shape {
        for _ in 0..<count {
            events += mmioExit(at: time, device: device, offset: offset, write: write, latency: 500)
            time += 1_000
        }
    }
    let report = makeReport(events: events, clockFrequency: 1_000_000_000, grouping: .device)
    let rows = Dictionary(uniqueKeysWithValues: report.groups.map { ($0.group ?? "", $0.count) })
    #expect(rows == ["virtio-blk:QueueNotify": 5, "virtio-blk:InterruptStatus": 3, "virtio-blk:InterruptACK": 3,
                     "virtio-blk:config.capacity": 2, "gicd": 5])

    let (builder, _) = makeFlameGraph(events: events)
    let stacks = builder.graph.stacks
    #expect(stacks["DABT_LOW;mmio;virtio-blk;QueueNotify"] == 5 * 480)
    #expect(stacks["DABT_LOW;mmio;gicd"] == 5 * 480)
    #expect(stacks.keys.allSatisfy { !$0.hasSuffix(";virtio-blk") }, "virtio time sits on the register, not the device")
    #expect(builder.graph.totalTicks == 18 * 500)
}

/// The disk's interrupt under IRQ: `IRQ;virtio-blk`, and `report --by irq` names it.
@Test func theDiskInterruptIsNamedUnderIRQ() {
    var events: [TimedEvent] = []
    for index in 0..<4 {
        let time = UInt64(1_000 + index * 1_000)
        events += [TimedEvent(timestamp: time, cpu: 0, event: .exitEntry(ec: AsynchronousExit.irq.rawValue, iss: 0, vcpu: 0)),
                   TimedEvent(timestamp: time + 5, cpu: 0, event: .physicalIRQ(intid: 79)),
                   TimedEvent(timestamp: time + 10, cpu: 0, event: .spanEnter(phase: HandlerPhase.irqHandling.rawValue)),
                   TimedEvent(timestamp: time + 50, cpu: 0, event: .virtualIRQ(intid: 79, vcpu: 0)),
                   TimedEvent(timestamp: time + 90, cpu: 0, event: .spanLeave(phase: HandlerPhase.irqHandling.rawValue)),
                   TimedEvent(timestamp: time + 100, cpu: 0, event: .exitReturn)]
    }
    let report = makeReport(events: events, clockFrequency: 1_000_000_000, grouping: .irq)
    #expect(report.groups.map { $0.group } == ["virtio-blk"])
    let stacks = makeFlameGraph(events: events).0.graph.stacks
    #expect(stacks["IRQ;virtio-blk"] == 4 * 20, "before and after the irq span")
    #expect(TraceTextFormatter.fields(.virtualIRQ(intid: 79, vcpu: 1)) == "intid=79 (virtio-blk) vcpu=0.1")
}
