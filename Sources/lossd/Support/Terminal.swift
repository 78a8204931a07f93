import Foundation

/// Small helpers for talking to a person on the terminal.
enum Terminal {
    /// True when standard error is a terminal (progress lines make sense there).
    static var standardErrorIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    /// True when standard output is a terminal.
    static var standardOutputIsTerminal: Bool { isatty(STDOUT_FILENO) != 0 }

    /// Writes a line to standard error, prefixed with `lossd: `.
    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("lossd: \(message)\n".utf8))
    }

    /// Overwrites the current standard-error line (a progress display).
    static func status(_ message: String) {
        FileHandle.standardError.write(Data("\r\u{1B}[2K\(message)".utf8))
    }

    /// Ends a progress display.
    static func endStatus() {
        FileHandle.standardError.write(Data("\n".utf8))
    }

    /// The number of processors this process may use.
    static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }
}
