// Runs the KVM reference machine once: starts QEMU with `KVMMachineCommand`, reads L1's console
// line by line, passes it on (the guest's own output included), writes the ftrace capture between
// its two markers to a file, and reports what L1's /init said.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What one run produced.
public struct KVMRunResult: Sendable {
    /// `mode=` of the ready line (`nvhe`, `vhe`).
    public var kvmMode: String?
    /// hvtrace-vmm's exit status (`status=` of the run-end line).
    public var workloadStatus: Int32?
    /// Lines written to the capture file.
    public var captureLines = 0
    /// The capture's `format=`.
    public var captureFormat: String?
    /// `NAME=ID,…` of the enabled events (what `hvtrace import --event-ids` needs for options/raw).
    public var eventIDs: String?
    public var seconds = 0.0
    public var command: KVMMachineCommand

    /// 0 when the workload exited 0, 1 otherwise.
    public var exitCode: Int32 { workloadStatus == 0 ? 0 : 1 }
}

public enum KVMMachineRun {
    /// Runs the machine. `console` receives every console line outside the capture (without its
    /// line end); the capture goes to `capturePath` when given (through a temporary file renamed
    /// into place at the end marker).
    public static func run(_ options: KVMMachineOptions, capturePath: String?,
                           console: (String) -> Void) throws(KVMMachineError) -> KVMRunResult {
        for (path, hint) in [(options.kernelPath, "run scripts/setup-guests.sh"),
                             (options.initramfsPath, "run scripts/setup-kvm.sh")] where access(path, R_OK) != 0 {
            throw .missingFile(path: path, hint: hint)
        }
        let markers = try KVMMarkers(contentsOf: options.markersPath)
        let command = KVMMachineCommand(options)
        var result = KVMRunResult(command: command)

        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw .launchFailed(executable: command.executable, errno: errno) }
        _ = fcntl(descriptors[0], F_SETFD, FD_CLOEXEC)
        let start = MonotonicClock.now
        let qemu: ChildProcess
        do {
            qemu = try ChildProcess(executable: command.executable, arguments: command.arguments,
                                    standardOutput: descriptors[1])
        } catch {
            close(descriptors[0]); close(descriptors[1])
            throw .launchFailed(executable: command.executable, errno: errno)
        }
        close(descriptors[1])
        let reader = descriptors[0]
        defer {
            close(reader)
            if qemu.poll() == nil { qemu.stop(grace: 5) }
        }

        var capture: UnsafeMutablePointer<FILE>?
        var capturing = false
        var finished = false
        var recent: [String] = []
        let temporaryCapture = capturePath.map { "\($0).partial-\(getpid())" }
        defer {
            if let capture { fclose(capture) }
            if let temporaryCapture { unlink(temporaryCapture) }
        }

        /// One console line (carriage returns already removed).
        func handle(_ line: String) throws(KVMMachineError) {
            if capturing {
                if line.hasPrefix(markers.ftraceEnd) {
                    capturing = false
                    if let file = capture, let temporaryCapture, let capturePath {
                        fclose(file)
                        capture = nil
                        rename(temporaryCapture, capturePath)
                    }
                    console(line)
                } else {
                    result.captureLines += 1
                    if let capture { fputs(line + "\n", capture) }
                }
                return
            }
            console(line)
            recent.append(line)
            if recent.count > 8 { recent.removeFirst() }
            if line.hasPrefix(markers.ready) {
                result.kvmMode = field("mode", in: line)
            } else if line.hasPrefix(markers.unavailable) {
                throw .kvmUnavailable(reason: String(line.dropFirst(markers.unavailable.count)).trimmingLeadingSpaces)
            } else if line.hasPrefix(markers.eventIDs) {
                result.eventIDs = String(line.dropFirst(markers.eventIDs.count)).trimmingLeadingSpaces
            } else if line.hasPrefix(markers.runEnd) {
                result.workloadStatus = field("status", in: line).flatMap { Int32($0) }
            } else if line.hasPrefix(markers.ftraceBegin) {
                capturing = true
                result.captureFormat = field("format", in: line)
                if let temporaryCapture {
                    guard let file = fopen(temporaryCapture, "w") else { throw .captureNotWritable(path: capturePath!, errno: errno) }
                    capture = file
                }
            } else if line.hasPrefix(markers.done) {
                finished = true
            }
        }

        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let timeout = options.timeout, MonotonicClock.now - start > timeout {
                qemu.stop(grace: 5)
                throw .timedOut(seconds: timeout)
            }
            var poller = pollfd(fd: reader, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            if ready == 0 { continue }
            if ready < 0 { if errno == EINTR { continue } else { break } }
            let count = buffer.withUnsafeMutableBytes { read(reader, $0.baseAddress, $0.count) }
            if count < 0 { if errno == EINTR { continue } else { break } }
            if count == 0 { break }
            var lineStart = 0
            for index in 0..<count where buffer[index] == 10 {
                pending.append(contentsOf: buffer[lineStart..<index])
                lineStart = index + 1
                if pending.last == 13 { pending.removeLast() }
                let line = String(decoding: pending, as: UTF8.self)
                pending.removeAll(keepingCapacity: true)
                try handle(line)
            }
            pending.append(contentsOf: buffer[lineStart..<count])
        }
        if !pending.isEmpty { try handle(String(decoding: pending, as: UTF8.self)) }
        let termination = qemu.wait()
        result.seconds = MonotonicClock.now - start
        guard finished else { throw .endedEarly(termination: termination.description, lastLines: recent) }
        return result
    }

    /// The value of ` NAME=value` in a marker line.
    static func field(_ name: String, in line: String) -> String? {
        for word in line.split(separator: " ") where word.hasPrefix(name + "=") {
            return String(word.dropFirst(name.count + 1))
        }
        return nil
    }
}

extension String {
    var trimmingLeadingSpaces: String { String(drop(while: { $0 == " " })) }
}
