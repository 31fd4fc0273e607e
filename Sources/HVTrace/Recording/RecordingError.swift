// Everything that can stop a recording or a snapshot, each with a message that names the file, the
// offset or the process, and what to do.

import TraceFormat

/// Why a recording, a live drain or a snapshot failed.
public enum RecordingError: Error, CustomStringConvertible, Sendable {
    /// The region header failed validation (offsets are from the region base).
    case invalidRegionHeader(LayoutError)
    /// The header's stored region size disagrees with the size computed from its fields.
    case regionSizeMismatch(stored: UInt64, computed: UInt64)
    /// The region claims more bytes than are mapped (or than `TraceRegion.maximumSize`).
    case regionLargerThanMapping(regionSize: UInt64, mapped: UInt64)
    /// A system call on the shared RAM file failed.
    case ramFile(path: String, operation: String, errno: Int32)
    /// The RAM file is too small to hold the trace region at the given offset.
    case ramFileTooSmall(path: String, size: UInt64, needed: UInt64)
    /// No region header appeared in the RAM file before QEMU exited or the timeout passed.
    case regionNeverAppeared(path: String, offset: UInt64, waitedSeconds: Double, qemuExited: Bool)
    /// QEMU could not be started.
    case launchFailed(executable: String, errno: Int32)
    /// A file the command line needs (hypervisor ELF, guest image) does not exist.
    case missingFile(path: String, hint: String)
    /// `make -C hypervisor` failed.
    case hypervisorBuildFailed(directory: String, status: Int32)
    /// The output file could not be written.
    case output(path: String, reason: String)
    /// The launch request itself is wrong (shape, options, missing image): nothing was started.
    case launch(LaunchError)

    public var description: String {
        switch self {
        case let .invalidRegionHeader(error):
            return "trace region header: \(Self.describe(error))"
        case let .regionSizeMismatch(stored, computed):
            return "trace region header: region size at offset \(RegionHeaderLayout.regionSize) is \(stored) bytes but its fields give \(computed); the region is corrupt or from another format version"
        case let .regionLargerThanMapping(size, mapped):
            return "trace region of \(size) bytes does not fit the \(mapped) mapped bytes (limit \(TraceRegion.maximumSize)); is the offset right?"
        case let .ramFile(path, operation, code):
            return "\(path): \(operation) failed: \(Self.errnoText(code))"
        case let .ramFileTooSmall(path, size, needed):
            return "\(path): \(size) bytes, but the trace region needs \(needed) bytes (pass --offset for a dump whose RAM does not start at the file start)"
        case let .regionNeverAppeared(path, offset, waited, exited):
            let why = exited ? "QEMU exited first" : "gave up after \(waited) s"
            return "\(path): no trace region magic at offset 0x\(String(offset, radix: 16)) (\(why)); does the hypervisor initialise its trace region at boot? Check the console output above"
        case let .launchFailed(executable, code):
            return "cannot start \(executable): \(Self.errnoText(code)); install qemu-system-arm or put qemu-system-aarch64 on PATH"
        case let .missingFile(path, hint):
            return "\(path): no such file; \(hint)"
        case let .hypervisorBuildFailed(directory, status):
            return "make -C \(directory) failed with status \(status); fix the build or pass --no-build with an existing hv.elf"
        case let .output(path, reason):
            return "\(path): \(reason)"
        case let .launch(error):
            return error.description
        }
    }

    /// A one-line description of a layout error, naming the offset.
    public static func describe(_ error: LayoutError) -> String {
        switch error {
        case let .badMagic(found):
            return "bad magic 0x\(String(found, radix: 16)) at offset 0 (expected \"HVTRACE\\0\"): not a trace region"
        case let .unsupportedVersion(major, minor):
            return "format version \(major).\(minor) at offset \(RegionHeaderLayout.versionMajor) is not supported (this build reads \(RegionHeader.currentMajorVersion).x)"
        case let .fieldOutOfRange(field, offset, value):
            return "\(field) at offset \(offset) is out of range (\(value))"
        case let .tooShort(needed, available):
            return "needs \(needed) bytes, only \(available) available"
        }
    }

    static func errnoText(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
