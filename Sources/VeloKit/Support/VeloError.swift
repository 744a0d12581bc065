/// A failure with a message meant for the person at the terminal: one line naming the file, entry,
/// table or row at fault. `exitCode` is the process exit status the CLI uses for it.
public struct VeloError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let exitCode: Int32

    public init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }

    public var description: String { message }
}
