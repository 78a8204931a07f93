import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// The users of basic authentication and their bcrypt hashes (`basic_auth_users`).
///
/// Only bcrypt hashes are accepted, never plain passwords: `$2a$`, `$2b$` or `$2y$` (what
/// `htpasswd -B` prints; `$2y$` is the same algorithm as `$2b$`), with a cost of 4 to 31.
///
/// bcrypt is slow by design (a tenth of a second at cost 10), so checks run on swift-nio's thread pool,
/// never on an event loop or Swift's cooperative pool, and credentials that passed are
/// remembered (at most 64 pairs, in memory only) so that a scrape every few seconds costs one
/// check, not one per request. A user that does not exist costs a check too, so that timing does
/// not tell which users exist.
public struct BasicAuthUsers: Sendable {
    private var hashes: [String: String] = [:]
    private let accepted = AcceptedCredentials()

    /// No users: authentication is off.
    public init() {}

    /// Whether no user is configured (then requests need no credentials).
    public var isEmpty: Bool { hashes.isEmpty }

    /// The user names, sorted.
    public var names: [String] { hashes.keys.sorted() }

    /// Adds a user with a bcrypt hash.
    ///
    /// - Throws: ``BasicAuthUsers/HashError`` when `hash` is not a bcrypt hash.
    public mutating func add(user: String, hash: String) throws(HashError) {
        guard !user.contains(":") else { throw HashError(reason: "a user name cannot contain ':'") }
        guard let normalized = Self.bcrypt(hash) else {
            throw HashError(
                reason: """
                    not a bcrypt hash: expected $2y$, $2b$ or $2a$, a cost of 04 to 31 and 53 more characters, as \
                    `htpasswd -nbBC 10 \(user) PASSWORD` prints after the colon (lossd never takes a plain password)
                    """)
        }
        hashes[user] = normalized
    }

    /// Whether `password` is `user`'s password; the bcrypt check runs on swift-nio's thread pool.
    public func verify(user: String, password: String) async -> Bool {
        let credential = "\(user)\u{0}\(password)"
        if accepted.contains(credential) { return true }
        // An unknown user is checked against a hash no password matches, so that answering takes as long.
        let hash = hashes[user] ?? Self.unmatchable
        let known = hashes[user] != nil
        let matches =
            (try? await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }) ?? false
        guard known && matches else { return false }
        accepted.insert(credential)
        return true
    }

    /// A bcrypt hash (cost 10) of a random 32-byte secret that was thrown away.
    private static let unmatchable = "$2b$10$CWQ7E6RprMIXziBnX3CXruaaf3f9REbEx4rr4.FUDVSTi1aO7fdre"

    /// `hash` in the form the bcrypt implementation reads (`$2y$` becomes `$2b$`), or nil when it
    /// is not a bcrypt hash.
    static func bcrypt(_ hash: String) -> String? {
        let bytes = Array(hash.utf8)
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
            bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$"),
            let cost = Int(String(decoding: bytes[4..<6], as: UTF8.self)), (4...31).contains(cost),
            bytes[7...].allSatisfy({ Self.bcryptAlphabet.contains($0) })
        else { return nil }
        return bytes[2] == UInt8(ascii: "y") ? "$2b" + hash.dropFirst(3) : hash
    }

    private static let bcryptAlphabet = Set("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// Why a hash was refused.
    public struct HashError: Error, Sendable {
        /// A sentence saying what to give instead.
        public var reason: String
    }
}

/// Credentials that passed a bcrypt check, bounded; shared by copies of ``BasicAuthUsers``.
private final class AcceptedCredentials: Sendable {
    private let credentials = Mutex<Set<String>>([])
    private static let limit = 64

    func contains(_ credential: String) -> Bool {
        credentials.withLock { $0.contains(credential) }
    }

    func insert(_ credential: String) {
        credentials.withLock {
            if $0.count >= Self.limit { $0.removeAll() }
            $0.insert(credential)
        }
    }
}
