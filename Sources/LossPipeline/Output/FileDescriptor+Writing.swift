public import SystemPackage

extension FileDescriptor {
    /// Opens `path` for writing: created with `permissions` when it does not exist, then emptied or
    /// appended to, and closed in any program this process starts.
    ///
    /// - Throws: `Errno`, whose description says why (e.g. "No such file or directory").
    public static func openForWriting(
        _ path: String, appending: Bool = false, permissions: FilePermissions = FilePermissions(rawValue: 0o644)
    ) throws -> FileDescriptor {
        try open(
            FilePath(path), .writeOnly, options: [.create, .closeOnExec, appending ? .append : .truncate],
            permissions: permissions)
    }
}
