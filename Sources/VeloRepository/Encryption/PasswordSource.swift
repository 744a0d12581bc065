import Foundation
import VeloFormat

#if canImport(Glibc)
import Glibc
#endif

/// Where the password of an encrypted repository comes from: a file, a command's output, or the terminal, never
/// a command-line argument (it would show in `ps` and shell history) and never logged. Each front door picks one
/// (the CLI: `--password-file`, `VELO_PASSWORD_FILE`, `VELO_PASSWORD_COMMAND`, else a prompt on a terminal).
public struct PasswordSource: Sendable {
    /// What it is, for messages ("the file /etc/velo/password", "the command of VELO_PASSWORD_COMMAND").
    public let origin: String
    /// Whether it is a person at a terminal, who is asked twice for a new password.
    public let isInteractive: Bool
    private let body: @Sendable (_ prompt: String) throws -> [UInt8]

    public init(origin: String, isInteractive: Bool = false, read: @escaping @Sendable (_ prompt: String) throws -> [UInt8]) {
        self.origin = origin
        self.isInteractive = isInteractive
        body = read
    }

    /// The password (`prompt` is shown when a person is asked).
    /// - Throws: `VeloError` naming the source when it cannot be read or gives an empty password.
    public func read(_ prompt: String = "Password: ") throws -> [UInt8] {
        let password = try body(prompt)
        guard !password.isEmpty else { throw VeloError("the password from \(origin) is empty") }
        return password
    }

    /// A new password: asked twice at a terminal (both must agree), read once from anything else.
    public func readNew(_ prompt: String = "New password: ") throws -> [UInt8] {
        let password = try read(prompt)
        if isInteractive {
            guard try read("Repeat the password: ") == password else { throw VeloError("the two passwords typed differ") }
        }
        return password
    }

    /// This source read once, then remembered in this process's memory: a server or a scheduler opens its
    /// repository again and again, and asks (or runs the command) only the first time.
    public func remembered() -> PasswordSource {
        let memory = RememberedPassword()
        let source = self
        return PasswordSource(origin: origin, isInteractive: false) { prompt in
            try memory.value { try source.read(prompt) }
        }
    }

    /// A password given in code (a library's caller, a test).
    public static func literal(_ password: String) -> PasswordSource {
        PasswordSource(origin: "the caller") { _ in Array(password.utf8) }
    }

    /// The first line of the file at `path` (a trailing newline is not part of the password).
    public static func file(_ path: String) -> PasswordSource {
        PasswordSource(origin: "the file \(path)") { _ in
            guard let data = FileManager.default.contents(atPath: path) else {
                throw VeloError(
                    "\(path): the password file cannot be read (\(FileSystem.exists(path) ? "permission denied" : "no such file"))")
            }
            return firstLine(Array(data))
        }
    }

    /// What `command` (run by `/bin/sh -c`) prints, its first line; it must exit 0.
    public static func command(_ command: String, origin: String) -> PasswordSource {
        PasswordSource(origin: origin) { _ in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", command]
            let output = Pipe()
            process.standardOutput = output
            process.standardInput = FileHandle.nullDevice
            do { try process.run() } catch { throw VeloError("\(origin): cannot be run (\(error))") }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationReason == .exit, process.terminationStatus == 0 else {
                throw VeloError("\(origin) failed (exit status \(process.terminationStatus)); no password was read")
            }
            return firstLine(Array(data))
        }
    }

    /// The terminal (`/dev/tty`), with echo off; nil when there is none (cron, systemd, a pipe).
    public static func terminal() -> PasswordSource? {
        guard isatty(STDIN_FILENO) == 1 || isatty(STDERR_FILENO) == 1 else { return nil }
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY)
        guard fd >= 0 else { return nil }
        close(fd)
        return PasswordSource(origin: "the terminal", isInteractive: true) { prompt in try readFromTerminal(prompt) }
    }

    /// `VELO_PASSWORD_FILE`, else `VELO_PASSWORD_COMMAND`, of `environment`; nil when neither is set.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> PasswordSource? {
        if let file = environment["VELO_PASSWORD_FILE"], !file.isEmpty { return .file(file) }
        if let command = environment["VELO_PASSWORD_COMMAND"], !command.isEmpty {
            return .command(command, origin: "the command of VELO_PASSWORD_COMMAND")
        }
        return nil
    }

    static func firstLine(_ bytes: [UInt8]) -> [UInt8] {
        var line = bytes.firstIndex(of: 10).map { Array(bytes[..<$0]) } ?? bytes
        if line.last == 13 { line.removeLast() }
        return line
    }

    private static func readFromTerminal(_ prompt: String) throws -> [UInt8] {
        let fd = open("/dev/tty", O_RDWR | O_NOCTTY)
        guard fd >= 0 else { throw VeloError("/dev/tty: cannot be opened to ask for the password") }
        defer { close(fd) }
        var saved = termios()
        let isTerminal = tcgetattr(fd, &saved) == 0
        if isTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            quiet.c_lflag |= tcflag_t(ECHONL)
            tcsetattr(fd, TCSAFLUSH, &quiet)
        }
        defer { if isTerminal { tcsetattr(fd, TCSAFLUSH, &saved) } }
        _ = prompt.withCString { write(fd, $0, strlen($0)) }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = Glibc.read(fd, &byte, 1)
            if n < 0 && errno == EINTR {
                try Interruption.check()
                continue
            }
            if n <= 0 || byte == 10 { break }
            line.append(byte)
        }
        try Interruption.check()
        if line.last == 13 { line.removeLast() }
        return line
    }
}

/// The password a `remembered()` source read, once.
private final class RememberedPassword: @unchecked Sendable {
    private let lock = NSLock()
    private var password: [UInt8]?

    func value(_ read: () throws -> [UInt8]) throws -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        if let password { return password }
        let read = try read()
        password = read
        return read
    }
}
