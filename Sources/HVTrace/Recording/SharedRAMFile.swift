// The file that backs QEMU's guest RAM (`-object memory-backend-file,…,share=on`), mapped into this
// process so the host sees the trace region the hypervisor writes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TraceFormat
import HypervisorModel

/// A RAM file in /dev/shm that we create, size and map MAP_SHARED before QEMU opens it, and remove on
/// every way out (`remove()`, deinit, or the cleanup registry on a signal).
///
/// Creating the file ourselves (O_EXCL, mode 0600) rather than waiting for QEMU to create it means the
/// mapping exists before QEMU starts, nobody else's file can be mistaken for ours, and the file can be
/// unlinked as soon as QEMU has it open (the memory stays shared; nothing is left behind even if this
/// process is killed with SIGKILL afterwards).
public final class SharedRAMFile {
    public let path: String
    public let size: Int
    public let base: UnsafeMutableRawPointer
    /// False with `--keep-ram-file`: the file stays for `hvtrace snapshot`.
    public let removeWhenDone: Bool
    private var removed = false

    /// Creates `directory/hvtrace-<pid>-<random>` of `size` bytes and maps it.
    public init(size: Int, directory: String = "/dev/shm", removeWhenDone: Bool = true) throws(RecordingError) {
        let random = UInt64.random(in: 0...UInt64.max)
        let path = "\(directory)/hvtrace-\(getpid())-\(String(random & 0xFFFF_FFFF, radix: 16))"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .ramFile(path: path, operation: "create", errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else {
            let code = errno
            unlink(path)
            throw .ramFile(path: path, operation: "ftruncate to \(size) bytes", errno: code)
        }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            let code = errno
            unlink(path)
            throw .ramFile(path: path, operation: "mmap \(size) bytes", errno: code)
        }
        self.path = path
        self.size = size
        self.base = mapped
        self.removeWhenDone = removeWhenDone
        CleanupRegistry.shared.register(path: path, remove: removeWhenDone)
    }

    deinit {
        munmap(base, size)
        removeIfRequested()
    }

    /// Removes the file from the file system (the mapping stays valid) unless it is to be kept.
    /// Safe to call more than once.
    public func removeIfRequested() {
        guard removeWhenDone, !removed else { return }
        removed = true
        unlink(path)
        CleanupRegistry.shared.unregister(path: path)
    }

    /// Whether the file still exists (tests).
    public var existsOnDisk: Bool { access(path, F_OK) == 0 }

    /// The trace region inside the mapping.
    public var region: UnsafeMutableRawPointer { base + Int(TraceRegion.ramFileOffset) }
    /// Bytes mapped from the region base to the end of the file.
    public var regionLength: Int { size - Int(TraceRegion.ramFileOffset) }

    /// What the hypervisor's end-status block says (RunEndStatus), nil when it holds no valid
    /// block (the hypervisor never started, or the file is too small to hold it).
    public var runEndState: RunEndState? {
        guard size >= Int(RunEndStatus.ramFileOffset) + RunEndStatus.size else { return nil }
        let block = base + Int(RunEndStatus.ramFileOffset)
        guard UInt64(littleEndian: block.loadUnaligned(fromByteOffset: RunEndStatus.magicOffset, as: UInt64.self)) == RunEndStatus.magic
        else { return nil }
        return RunEndState(rawValue: UInt32(littleEndian: block.loadUnaligned(fromByteOffset: RunEndStatus.stateOffset, as: UInt32.self)))
    }

    /// Whether the region magic has appeared (the hypervisor initialised the region).
    public var regionMagicPresent: Bool {
        RingConsumer.atomic(region + RegionHeaderLayout.magic).pointee.load(ordering: .acquiring)
            == RegionHeader.magicValue.littleEndian
    }
}

/// Files that must disappear however this process ends. The normal paths (return, thrown error,
/// signal handled by the recording loop) remove them through `SharedRAMFile`; `removeAll()` runs from
/// an `atexit` handler for paths that skip deinitializers (`exit()` after an error message).
public final class CleanupRegistry: @unchecked Sendable {
    public static let shared = CleanupRegistry()
    private var lock = pthread_mutex_t()
    private var paths: [String] = []

    private init() {
        pthread_mutex_init(&lock, nil)
        atexit { CleanupRegistry.shared.removeAll() }
    }

    func register(path: String, remove: Bool) {
        guard remove else { return }
        pthread_mutex_lock(&lock)
        paths.append(path)
        pthread_mutex_unlock(&lock)
    }

    func unregister(path: String) {
        pthread_mutex_lock(&lock)
        paths.removeAll { $0 == path }
        pthread_mutex_unlock(&lock)
    }

    /// Unlinks every registered file (for an exit path that skips deinitializers: `exit()`, fatal errors).
    public func removeAll() {
        pthread_mutex_lock(&lock)
        for path in paths { unlink(path) }
        paths.removeAll()
        pthread_mutex_unlock(&lock)
    }

    /// Paths still registered (tests).
    public var registeredPaths: [String] {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return paths
    }
}
