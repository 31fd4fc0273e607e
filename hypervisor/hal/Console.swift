import CHAL

/// PL011 UART console (polled transmit), at the UART the DTB names (QEMU virt: 0x0900_0000).
/// Register offsets: PrimeCell UART (PL011) TRM, DDI 0183: UARTDR 0x000, UARTFR 0x018 (TXFF bit 5).
enum Console {
  static var base: UInt64 = Platform.uartBase

  @inline(__always) static func write(byte: UInt8) {
    while mmio_read32(base + 0x18) & (1 << 5) != 0 {}
    mmio_write32(base, UInt32(byte))
  }

  static func write(_ text: StaticString) {
    text.withUTF8Buffer { for byte in $0 { write(byte: byte) } }
  }

  static func write(bytes: [UInt8]) {
    for byte in bytes { write(byte: byte) }
  }

  /// Writes `value` as 0x-prefixed hexadecimal without allocating.
  static func write(hex value: UInt64) {
    write(byte: UInt8(ascii: "0")); write(byte: UInt8(ascii: "x"))
    var started = false
    var shift = 60
    while shift >= 0 {
      let nibble = UInt8((value >> UInt64(shift)) & 0xF)
      if nibble != 0 || started || shift == 0 {
        started = true
        write(byte: nibble < 10 ? nibble + 48 : nibble + 87)
      }
      shift -= 4
    }
  }

  /// Writes `value` in decimal without allocating.
  static func write(decimal value: UInt64) {
    var divisor: UInt64 = 1
    while value / divisor >= 10 { divisor *= 10 }
    var remaining = value
    while divisor > 0 {
      write(byte: UInt8(remaining / divisor) + 48)
      remaining %= divisor
      divisor /= 10
    }
  }
}

/// `putchar` for the Embedded Swift runtime's `print`.
@_cdecl("putchar")
func putchar(_ character: Int32) -> Int32 {
  if character == 10 { Console.write(byte: 13) }
  Console.write(byte: UInt8(truncatingIfNeeded: character))
  return character
}
