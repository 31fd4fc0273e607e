// Starting QEMU (and make) as child processes that share our terminal, watching them without
// blocking, and the signals that end a recording.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// How a child process ended.
public enum ProcessTermination: Equatable, Sendable, CustomStringConvertible {
    case exited(status: Int32)
    case signaled(signal: Int32)

    public var description: String {
        switch self {
        case let .exited(status): return "exited with status \(status)"
        case let .signaled(signal): return "killed by signal \(signal) (\(String(cString: strsignal(signal))))"
        }
    }
}

/// A child process started with posix_spawn. It inherits our stdin, stdout and stderr (QEMU's
/// console is the user's terminal, interactive shells included) and our process group, so a Ctrl-C
/// typed at the terminal reaches it as well as us.
public final class ChildProcess {
    public let pid: pid_t
    public let executable: String
    public private(set) var termination: ProcessTermination?

    /// Starts `executable` (searched on PATH) with `arguments`. With `stdoutToStderr` the child's
    /// standard output goes to our standard error (build logs must not mix with command output);
    /// with `standardOutput` it goes to that descriptor (a pipe the caller reads), and the child's
    /// standard input is /dev/null. With `consoleLog` its standard input is /dev/null and its
    /// standard output and error go to that file (a live view owns the terminal; QEMU's serial
    /// console must not write into it).
    public init(executable: String, arguments: [String], stdoutToStderr: Bool = false,
                standardOutput: Int32? = nil, consoleLog: String? = nil) throws(RecordingError) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdoutToStderr { posix_spawn_file_actions_adddup2(&actions, 2, 1) }
        if let standardOutput {
            posix_spawn_file_actions_adddup2(&actions, standardOutput, 1)
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        if let consoleLog {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, consoleLog, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        let argv = ([executable] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        // The child starts with no signals blocked and the stop signals at their default action,
        // whatever this thread's mask is (test runners and dispatch threads block signals): QEMU
        // must die on SIGTERM and on the terminal's SIGINT.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signalNumber in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT] { sigaddset(&defaults, signalNumber) }
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let result = (argv + [nil]).withUnsafeBufferPointer { argvPointer in
            posix_spawnp(&pid, executable, &actions, &attributes, argvPointer.baseAddress!, environ)
        }
        guard result == 0 else { throw .launchFailed(executable: executable, errno: result) }
        self.pid = pid
        self.executable = executable
    }

    /// The termination if the child has ended, without blocking.
    @discardableResult
    public func poll() -> ProcessTermination? {
        if let termination { return termination }
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid { termination = Self.decode(status) }
        return termination
    }

    /// Blocks until the child ends.
    @discardableResult
    public func wait() -> ProcessTermination {
        if let termination { return termination }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let ended = Self.decode(status)
        termination = ended
        return ended
    }

    /// Sends `signal` unless the child has already been reaped.
    public func send(_ signal: Int32) {
        if poll() == nil { kill(pid, signal) }
    }

    /// Asks the child to stop (SIGTERM), waits up to `grace` seconds, then kills it (SIGKILL).
    @discardableResult
    public func stop(grace: Double) -> ProcessTermination {
        send(SIGTERM)
        let deadline = MonotonicClock.now + grace
        while MonotonicClock.now < deadline {
            if let ended = poll() { return ended }
            MonotonicClock.sleep(seconds: 0.01)
        }
        send(SIGKILL)
        return wait()
    }

    private static func decode(_ status: Int32) -> ProcessTermination {
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros; their definitions on Linux and Darwin agree.
        let low = status & 0x7F
        return low == 0 ? .exited(status: (status >> 8) & 0xFF) : .signaled(signal: low)
    }
}

/// The signals that end a recording (SIGINT from Ctrl-C, SIGTERM, SIGHUP). The handler only records
/// which signal arrived; the recording loop sees it within one poll interval, stops QEMU, drains what
/// is left and removes the RAM file. A second signal of the same kind restores the default action so
/// a stuck run can still be killed from the keyboard.
public enum StopSignals {
    private static let pending = Atomic<Int32>(0)
    static let handled: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Installs the handlers (idempotent).
    public static func install() {
        for signalNumber in handled {
            signal(signalNumber) { received in
                if StopSignals.pending.exchange(received, ordering: .relaxed) != 0 {
                    signal(received, SIG_DFL)
                }
            }
        }
    }

    /// Restores the default actions.
    public static func uninstall() {
        for signalNumber in handled { signal(signalNumber, SIG_DFL) }
    }

    /// The first stop signal received, or nil.
    public static var received: Int32? {
        let value = pending.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }

    /// Forgets a received signal (tests, and between runs in one process).
    public static func reset() { pending.store(0, ordering: .relaxed) }
}

/// Saves the terminal settings of stdin and puts them back: QEMU switches the terminal to raw mode
/// and restores it only when it exits normally, not when it is killed.
public struct TerminalSettings {
    private var saved: termios?

    public init() {
        guard isatty(0) == 1 else { return }
        var settings = termios()
        if tcgetattr(0, &settings) == 0 { saved = settings }
    }

    public func restore() {
        guard var settings = saved else { return }
        tcsetattr(0, TCSANOW, &settings)
    }
}

/// CLOCK_MONOTONIC in seconds, and sleeping.
public enum MonotonicClock {
    public static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Sleeps `seconds` (returns early when a signal arrives, which is what a poll loop wants).
    public static func sleep(seconds: Double) {
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        nanosleep(&request, nil)
    }
}
