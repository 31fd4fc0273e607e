// Exit reasons as the analyses count them. Every other name (hypercall functions, interrupt ids,
// system registers) comes from the one set of tables in Decoding/EventNames.swift, shared with
// `dump`, so a name is spelled the same in every command's output.

/// The reason an exit happened, as a small integer: the exit entry's EC (Arm ARM D17.2.37, ESR_EL2.EC,
/// bits 31:26) or an `AsynchronousExit` value, except that a trapped WFx is split by ISS.TI (bits 1:0:
/// WFI, WFE, WFIT, WFET) into `wfxBase + TI`, because a sleeping WFI and a spinning WFE are different
/// questions for the user.
public struct ExitReason: Hashable, Comparable, Sendable {
    public var rawValue: UInt16

    @inline(__always)
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// The first of the four WFx pseudo-reasons (WFI, WFE, WFIT, WFET).
    public static let wfxBase: UInt16 = 0x100
    /// One past the largest reason value; arrays indexed by reason have this many slots.
    public static let slotCount = Int(wfxBase) + 4

    /// Classifies an exit entry; a later `waitForInterrupt` event may refine a WFx exit (`waitKind`).
    @inline(__always)
    public init(ec: UInt8, iss: UInt32) {
        if ec == ExceptionClass.wfx.rawValue {
            rawValue = ExitReason.wfxBase | UInt16(iss & 3)
        } else {
            rawValue = UInt16(ec)
        }
    }

    /// The WFx reason for a `waitForInterrupt` event's kind.
    @inline(__always)
    public init(waitKind: WaitKind) { rawValue = ExitReason.wfxBase | UInt16(waitKind.rawValue) }

    public var isWFx: Bool { rawValue >= ExitReason.wfxBase }

    /// `HVC64`, `DABT_LOW`, `WFI`, `IRQ`, … or `EC_0x3F` for a class no table names.
    public var name: String { ExitReason.names[Int(rawValue)] }

    public static func < (lhs: ExitReason, rhs: ExitReason) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Every reason's name, indexed by raw value, built once.
    static let names: [String] = (0..<slotCount).map { raw in
        switch raw {
        case Int(wfxBase): return "WFI"
        case Int(wfxBase) + 1: return "WFE"
        case Int(wfxBase) + 2: return "WFIT"
        case Int(wfxBase) + 3: return "WFET"
        default:
            let value = UInt8(raw)
            if let asynchronous = AsynchronousExit(rawValue: value) { return asynchronous.name.description }
            if let exceptionClass = ExceptionClass(rawValue: value) { return exceptionClass.name.description }
            return "EC_" + hexLiteral(UInt64(value), digits: 2)
        }
    }

    /// The reason whose name is `name`, if any (used to read summaries back).
    public init?(name: String) {
        guard let index = ExitReason.names.firstIndex(of: name) else { return nil }
        rawValue = UInt16(index)
    }
}

/// `0x` followed by `value` in upper-case hex, zero-padded to `digits`.
func hexLiteral(_ value: UInt64, digits: Int = 1) -> String {
    let text = String(value, radix: 16, uppercase: true)
    return "0x" + String(repeating: "0", count: max(0, digits - text.count)) + text
}
