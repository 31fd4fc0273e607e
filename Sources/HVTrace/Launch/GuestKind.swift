// The guests hvtrace can launch: where their images come from, where QEMU loads them, whether they
// can run without the hypervisor. The hypervisor's side of the same list is hypervisor/app/VMConfigs.swift
// (`guest=NAME` in its boot arguments).

import HypervisorModel

/// The guests the hypervisor can run, with where their images come from and where QEMU loads them.
public enum GuestKind: String, CaseIterable, Sendable {
    case probe
    /// The probe's hostile mode: random hypercalls, accesses and system instructions (issue 8).
    case hostile
    /// The probe's compare mode: the operations measured side by side with KVM (issue 12).
    case probeCompare = "probe-compare"
    /// The probe's timer-rate mode: virtual-timer interrupts counted while it never exits (issue 14).
    case probeTimerRate = "probe-timer-rate"
    case nimbosContract = "nimbos-contract"
    /// A user-supplied NimbOS kernel (`--image`), under NimbOS's contract (128 MiB at IPA 0x4000_0000,
    /// entry 0x4008_0000).
    case nimbos
    case linux

    /// The probe family is one image (hypervisor/build/probe.bin) run in different modes.
    public var isProbe: Bool { defaultImage == "hypervisor/build/probe.bin" }

    /// IPA of the kernel image.
    public var imageIPA: UInt64 { self == .linux ? GuestMemoryLayout.linuxImageIPA : GuestMemoryLayout.smallGuestImageIPA }
    /// Host PA of the kernel image (where `-device loader` puts it).
    public var imageAddress: UInt64 { GuestMemoryLayout.physicalAddress(ipa: imageIPA) }
    /// Host PA of the Linux initramfs.
    public static var initramfsAddress: UInt64 { GuestMemoryLayout.physicalAddress(ipa: GuestMemoryLayout.linuxInitrdIPA) }

    /// The image used when `--image` is not given, relative to the repository root (nil: `--image` is required).
    public var defaultImage: String? {
        switch self {
        case .probe, .hostile, .probeCompare, .probeTimerRate, .nimbosContract: return "hypervisor/build/probe.bin"
        case .nimbos: return nil
        case .linux: return "cache/guests/linux/Image"
        }
    }

    /// How to get the default image when it is missing.
    public var imageHint: String {
        switch self {
        case .probe, .hostile, .probeCompare, .probeTimerRate, .nimbosContract:
            return "run `make -C hypervisor` (it builds build/probe.bin) or drop --no-build"
        case .nimbos: return "pass --image with a NimbOS kernel binary (nimbos.bin, loaded at IPA 0x4008_0000)"
        case .linux: return "run scripts/setup-guests.sh (it fetches Image and initramfs.cpio.gz) or pass --image"
        }
    }

    /// The Linux initramfs that goes with the default image.
    public static let defaultInitramfs = "cache/guests/linux/initramfs.cpio.gz"

    /// Whether the guest runs directly on QEMU too (`--direct`): the probe family talks to the
    /// hypervisor (its hypercalls and test device) and needs it.
    public var runsWithoutHypervisor: Bool { self == .linux || self == .nimbos }

    /// Guest RAM when `--memory` is not given.
    public var defaultRAMBytes: UInt64 {
        self == .linux ? GuestMemoryLayout.linuxDefaultRAMBytes : GuestMemoryLayout.smallGuestRAMBytes
    }
}
