import Foundation

/// Warnings for the person running velo: one line on stderr, whether or not it is a terminal.
public enum Diagnostics {
    public static func warn(_ message: String) {
        FileHandle.standardError.write(Data("velo: warning: \(message)\n".utf8))
    }
}
