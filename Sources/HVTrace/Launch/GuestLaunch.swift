// From what the user asked (`RecordingOptions`: guest, images, shape, direct or not) to the one
// QEMU command: files checked, the shape checked, the hypervisor's boot arguments and the guest's
// command line assembled.

import HypervisorModel

/// Builds the QEMU command of a run.
public enum GuestLaunch {
    /// The Linux command line of a direct run (no hypervisor): the console, and a panic ends the run
    /// (-no-reboot turns the reboot into QEMU's exit).
    public static let directLinuxCommandLine = "console=ttyAMA0 panic=-1"

    /// The command for `options`; `ramFilePath` is the shared RAM file of a hypervisor run (unused
    /// with `direct`). Checks that every file exists and that the shape is one the hypervisor runs.
    public static func command(for options: RecordingOptions, ramFilePath: String) throws(RecordingError) -> QEMUCommand {
        let guest = options.guest
        let root = options.repositoryRoot
        do throws(LaunchError) {
            try checkOptions(options)
        } catch {
            throw .launch(error)
        }
        let shape: MachineShape
        do throws(LaunchError) {
            shape = try options.machine.resolve(for: guest, direct: options.direct)
        } catch {
            throw .launch(error)
        }
        guard let image = options.image ?? guest.defaultImage.map({ "\(root)/\($0)" }) else {
            throw .launch(.imageRequired(guest: guest))
        }
        try requireFile(image, hint: guest.imageHint)
        var initramfs: String?
        if guest == .linux {
            initramfs = options.initramfs ?? "\(root)/\(GuestKind.defaultInitramfs)"
            try requireFile(initramfs!, hint: GuestKind.linux.imageHint)
        }
        var guestWords = options.guestCommandLine
        if options.shell { guestWords.append("hvtrace.shell=1") }

        var command: QEMUCommand
        if options.direct {
            if let deviceTree = options.deviceTree { try requireFile(deviceTree, hint: "pass an existing .dtb to --dtb") }
            let commandLine = guest == .linux ? ([directLinuxCommandLine] + guestWords).joined(separator: " ") : nil
            command = QEMUCommand(guest: guest, shape: shape,
                                  boot: .direct(kernel: image, initrd: initramfs, deviceTree: options.deviceTree, commandLine: commandLine),
                                  deterministic: options.deterministic)
        } else {
            let hypervisor = "\(root)/hypervisor/build/hv.elf"
            try requireFile(hypervisor, hint: "run `make -C hypervisor` (or drop --no-build)")
            if guest == .linux { try checkLinuxImage(image) }
            var images = [LoadedImage(path: image, address: guest.imageAddress)]
            var words = QEMUCommand.hypervisorBootArguments(guest: guest, shape: shape)
            if let initramfs {
                images.append(LoadedImage(path: initramfs, address: GuestKind.initramfsAddress))
                words.append("initrd_size=0x" + String(try fileSize(initramfs), radix: 16))
            }
            if let mode = options.mode { words.append("trace_mode=\(mode.name)") }
            words += options.extraBootArguments
            // Words after `--` go to the Linux command line (LinuxBoot); one `--` only.
            if !guestWords.isEmpty {
                if !words.contains("--") { words.append("--") }
                words += guestWords
            }
            command = QEMUCommand(guest: guest, shape: shape,
                                  boot: .hypervisor(elf: hypervisor, ramFilePath: ramFilePath, images: images, bootArguments: words),
                                  deterministic: options.deterministic)
        }
        command.executable = options.qemuExecutable
        command.executablePrefixArguments = options.qemuPrefixArguments
        command.extraArguments = options.qemuExtraArguments
        return command
    }

    /// Options that do not go together.
    public static func checkOptions(_ options: RecordingOptions) throws(LaunchError) {
        let guest = options.guest
        if guest != .linux {
            if options.initramfs != nil { throw .optionNeedsLinux(option: "--initramfs", guest: guest) }
            if options.shell { throw .optionNeedsLinux(option: "--shell", guest: guest) }
            if !options.guestCommandLine.isEmpty { throw .optionNeedsLinux(option: "--guest-append", guest: guest) }
        }
        if options.direct {
            guard guest.runsWithoutHypervisor else { throw .directNeedsHypervisor(guest: guest) }
            if options.mode != nil { throw .optionNeedsHypervisor(option: "--mode") }
            if !options.extraBootArguments.isEmpty { throw .optionNeedsHypervisor(option: "--append (the hypervisor's boot arguments; --guest-append is the kernel's)") }
            if options.keepRAMFile { throw .optionNeedsHypervisor(option: "--keep-ram-file") }
        } else if options.deviceTree != nil {
            throw .optionNeedsDirect(option: "--dtb")
        }
    }

    /// The Image header checked as the hypervisor will check it (core/model/LinuxImageHeader), on
    /// the CPU QEMU emulates, so a kernel it cannot boot fails here with the field and value.
    static func checkLinuxImage(_ path: String) throws(RecordingError) {
        var bytes = [UInt8](repeating: 0, count: LinuxImageHeader.size)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .ramFile(path: path, operation: "open", errno: errno) }
        let count = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        close(fd)
        do throws(LinuxImageError) {
            let prefix = Array(bytes[0 ..< max(0, count)])
            let parsed = prefix.withUnsafeBytes { raw in
                Result { () throws(LinuxImageError) -> LinuxImageHeader in try LinuxImageHeader(bytes: raw) }
            }
            let header = try parsed.get()
            try header.check(availableBytes: GuestMemoryLayout.linuxInitrdIPA - GuestMemoryLayout.linuxImageIPA,
                             granuleSupported: { $0.isImplemented(memoryModelFeatures0: LinuxImageHeader.PageSize.cortexA72MemoryModelFeatures0) })
        } catch {
            throw .launch(.imageRejected(path: path, error))
        }
    }

    static func requireFile(_ path: String, hint: String) throws(RecordingError) {
        guard access(path, R_OK) == 0 else { throw .missingFile(path: path, hint: hint) }
    }

    static func fileSize(_ path: String) throws(RecordingError) -> UInt64 {
        guard let size = PosixFile.size(atPath: path) else { throw .ramFile(path: path, operation: "stat", errno: errno) }
        return size
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
