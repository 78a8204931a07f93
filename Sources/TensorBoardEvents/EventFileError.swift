/// Why an event file could not be made or written; each message names the path and what to do.
public enum EventFileError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The folder could not be created.
    case folder(path: String, reason: String)
    /// The file could not be created.
    case open(path: String, reason: String)
    /// Writing to the file failed (a full disk, a removed folder).
    case write(path: String, reason: String)

    /// A sentence a person can act on.
    public var description: String {
        switch self {
        case .folder(let path, let reason):
            "cannot create the TensorBoard folder \(path): \(reason). Check that its parent is writable, or choose "
                + "another folder with --tensorboard."
        case .open(let path, let reason):
            "cannot create the event file \(path): \(reason). Check that the folder is writable and has room."
        case .write(let path, let reason):
            "cannot write the event file \(path): \(reason). Check the free space of its file system."
        }
    }
}
