import Foundation
import SystemPackage
public import ZeroMQ

/// CURVE key files as `lossd keygen` writes them: `NAME.key` (the pair, mode 0600) and
/// `NAME.pub` (the public key alone, to hand to peers).
///
/// Both are text, one `name: value` line per key and `#` comments:
///
/// ```
/// # lossd CURVE key pair, written by lossd keygen. Keep this file secret.
/// public-key: rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7
/// secret-key: JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6
/// ```
public enum KeyFile {
    /// Writes `NAME.key` (mode 0600) and `NAME.pub`; refuses to overwrite an existing key.
    public static func write(_ pair: CurveKeyPair, name: String, overwrite: Bool = false) throws(SecurityError) {
        let secretPath = name + ".key", publicPath = name + ".pub"
        for path in [secretPath, publicPath] where !overwrite && FileManager.default.fileExists(atPath: path) {
            throw .exists(path: path)
        }
        let secret =
            "# lossd CURVE key pair, written by lossd keygen. Keep this file secret.\n"
            + "public-key: \(pair.publicKey)\nsecret-key: \(pair.secretKey)\n"
        let publicText =
            "# lossd CURVE public key, written by lossd keygen. Give it to the peers that must trust it.\n"
            + "public-key: \(pair.publicKey)\n"
        try create(secretPath, contents: secret, mode: 0o600)
        try create(publicPath, contents: publicText, mode: 0o644)
    }

    /// Reads the pair from a `.key` file.
    public static func readPair(_ path: String) throws(SecurityError) -> CurveKeyPair {
        let fields = try read(path)
        guard let publicKey = fields["public-key"], let secretKey = fields["secret-key"] else {
            throw .malformed(
                path: path, reason: "a key pair file needs public-key and secret-key lines (make one with lossd keygen)"
            )
        }
        return CurveKeyPair(publicKey: try checked(publicKey, path), secretKey: try checked(secretKey, path))
    }

    /// Reads a public key: a 40-character Z85 key as it is, or the `public-key` of a `.pub` or `.key` file.
    public static func publicKey(_ keyOrPath: String) throws(SecurityError) -> String {
        let text = keyOrPath.trimmingWhitespace
        if text.utf8.count == 40 && !FileManager.default.fileExists(atPath: text) { return text }
        let fields = try read(text)
        guard let key = fields["public-key"] else {
            throw .malformed(path: text, reason: "no public-key line")
        }
        return try checked(key, text)
    }

    private static func checked(_ key: String, _ path: String) throws(SecurityError) -> String {
        guard key.utf8.count == 40 else {
            throw .malformed(path: path, reason: "a CURVE key is 40 Z85 characters; this one has \(key.utf8.count)")
        }
        return key
    }

    private static func read(_ path: String) throws(SecurityError) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw .unreadable(path: path)
        }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { continue }
            fields[String(trimmed[..<colon]).trimmingWhitespace] =
                String(trimmed[trimmed.index(after: colon)...]).trimmingWhitespace
        }
        return fields
    }

    private static func create(_ path: String, contents: String, mode: mode_t) throws(SecurityError) {
        let file: FileDescriptor
        do {
            file = try .openForWriting(path, permissions: FilePermissions(rawValue: CInterop.Mode(mode)))
        } catch {
            throw .unwritable(path: path, reason: "\(error)")
        }
        defer { try? file.close() }
        // The umask may have taken bits off: set the mode itself (swift-system has no fchmod).
        guard fchmod(file.rawValue, mode) == 0 else {
            throw .unwritable(path: path, reason: "\(Errno(rawValue: errno))")
        }
        do {
            _ = try file.writeAll(contents.utf8)
        } catch {
            throw .unwritable(path: path, reason: "\(error)")
        }
    }
}

/// A problem with keys or their files.
public enum SecurityError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Writing would replace a key.
    case exists(path: String)
    /// The file is missing or unreadable.
    case unreadable(path: String)
    /// The file cannot be written.
    case unwritable(path: String, reason: String)
    /// The file's content is not a key file.
    case malformed(path: String, reason: String)

    /// A sentence saying what failed and what to change.
    public var description: String {
        switch self {
        case .exists(let path):
            "\(path) exists; lossd keygen does not overwrite keys (remove it, or choose another name)"
        case .unreadable(let path): "cannot read the key file \(path): no such file, or no permission"
        case .unwritable(let path, let reason): "cannot write \(path): \(reason)"
        case .malformed(let path, let reason): "\(path) is not a lossd key file: \(reason)"
        }
    }
}
