import CZeroMQ

/// Facts about the libzmq this process is linked against.
///
/// Note that this enum shares the module's name, so other modules refer to this module's types
/// unqualified (`Socket`, `Context`), not as `ZeroMQ.Socket`.
public enum ZeroMQ {
    /// A libzmq version, `major.minor.patch`.
    public struct Version: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The major version: 4 for every libzmq lossd supports.
        public var major: Int
        /// The minor version.
        public var minor: Int
        /// The patch level.
        public var patch: Int

        /// Creates a version from its parts.
        public init(major: Int, minor: Int, patch: Int) {
            self.major = major
            self.minor = minor
            self.patch = patch
        }

        /// Orders versions by major, then minor, then patch.
        public static func < (lhs: Version, rhs: Version) -> Bool {
            (lhs.major, lhs.minor, lhs.patch) < (rhs.major, rhs.minor, rhs.patch)
        }

        /// `major.minor.patch`.
        public var description: String { "\(major).\(minor).\(patch)" }
    }

    /// The version of the linked libzmq (`zmq_version`), which may differ from the headers'.
    public static var version: Version {
        var major: Int32 = 0
        var minor: Int32 = 0
        var patch: Int32 = 0
        zmq_version(&major, &minor, &patch)
        return Version(major: Int(major), minor: Int(minor), patch: Int(patch))
    }

    /// Whether the linked libzmq supports `capability` (`zmq_has`): `"curve"` for encryption,
    /// `"ipc"`, `"draft"` and so on. Check `"curve"` before configuring CURVE keys.
    public static func hasCapability(_ capability: String) -> Bool {
        zmq_has(capability) != 0
    }
}
