import Foundation
public import NIOSSL
import Yams

/// The web configuration file of Prometheus exporters (the exporter toolkit's `web-config.yml`),
/// which guards the aggregator's HTTP port with TLS and basic authentication:
///
/// ```yaml
/// tls_server_config:
///   cert_file: lossd.crt          # PEM; relative paths are relative to this file's folder
///   key_file: lossd.key
///   min_version: TLS12            # optional: TLS12 (default) or TLS13
/// basic_auth_users:
///   prometheus: $2y$10$…          # bcrypt hashes only (htpasswd -nbBC 10 USER PASSWORD)
/// ```
///
/// Either part may be left out: TLS alone, or basic authentication alone (over plain HTTP, where
/// passwords cross the network readable). lossd reads the same keys as the exporter toolkit and
/// refuses, by name, any it does not carry out (client certificates, cipher suites, headers),
/// rather than run less guarded than the file says. The file is read once, at start.
public struct WebConfig: Sendable {
    /// The file the settings were read from.
    public var path: String
    /// The TLS settings, or nil to serve plain HTTP.
    public var tls: WebTLSSettings?
    /// The users basic authentication lets in; empty when the file names none (no authentication).
    public var users: BasicAuthUsers

    /// Settings given directly (tests, embedding).
    public init(path: String = "(built in)", tls: WebTLSSettings? = nil, users: BasicAuthUsers = BasicAuthUsers()) {
        self.path = path
        self.tls = tls
        self.users = users
    }

    /// Reads and checks the file at `path`, loading its certificate and key.
    ///
    /// - Throws: ``WebConfigError`` naming the file, the key and what to change: a missing or
    ///   unreadable file, a key lossd does not know or support, a certificate or key that cannot
    ///   be loaded or that do not match, a password that is not a bcrypt hash.
    public static func load(path: String) throws(WebConfigError) -> WebConfig {
        guard FileManager.default.fileExists(atPath: path) else {
            throw .unreadable(path: path, reason: "no such file")
        }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(path: path, reason: "\(error.localizedDescription) (permissions?)")
        }
        return try WebConfig(parsing: text, path: path)
    }

    /// Parses the text of a web configuration file; relative certificate paths are taken from
    /// the folder of `path`, as the exporter toolkit does.
    public init(parsing text: String, path: String) throws(WebConfigError) {
        self.path = path
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw .unreadable(path: path, reason: "not valid YAML: \(error)")
        }
        let file = FileKeys(path: path)
        let top = try file.mapping(
            root, key: "(top level)", allowed: ["tls_server_config", "basic_auth_users", "http_server_config"])
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if let tlsNode = top["tls_server_config"] {
            tls = try WebTLSSettings(tlsNode, file: file, folder: folder)
        } else {
            tls = nil
        }
        if let httpNode = top["http_server_config"] {
            let http = try file.mapping(httpNode, key: "http_server_config", allowed: ["http2"])
            if let http2 = http["http2"], http2.bool == nil {
                throw .invalid(path: path, key: "http_server_config.http2", reason: "expected true or false")
            }
        }
        var users = BasicAuthUsers()
        if let usersNode = top["basic_auth_users"] {
            for (name, hashNode) in try file.mapping(usersNode, key: "basic_auth_users", allowed: nil).pairs {
                let key = "basic_auth_users.\(name)"
                guard let hash = hashNode.string, hashNode.scalar != nil else {
                    throw .invalid(path: path, key: key, reason: "expected a bcrypt hash")
                }
                do {
                    try users.add(user: name, hash: hash)
                } catch {
                    throw .invalid(path: path, key: key, reason: error.reason)
                }
            }
        }
        self.users = users
    }
}

/// Reads the mappings of one file, naming it and the key in every error.
struct FileKeys {
    let path: String

    /// The entries of a mapping by key (nil or null: none), refusing keys outside `allowed`.
    func mapping(_ node: Node?, key: String, allowed: Set<String>?) throws(WebConfigError) -> FileEntries {
        guard let node, node.null == nil else { return FileEntries() }
        guard let mapping = node.mapping else {
            throw .invalid(path: path, key: key, reason: "expected a mapping of keys to values")
        }
        var entries = FileEntries()
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else {
                throw .invalid(path: path, key: key, reason: "expected text keys")
            }
            let full = key == "(top level)" ? name : "\(key).\(name)"
            if let allowed, !allowed.contains(name) {
                throw .invalid(path: path, key: full, reason: Self.refusal(full, allowed: allowed))
            }
            entries.pairs.append((name, value))
        }
        return entries
    }

    /// A text value, or nil when absent or empty.
    func text(_ node: Node?, key: String) throws(WebConfigError) -> String? {
        guard let node, node.null == nil else { return nil }
        guard node.scalar != nil, let value = node.string else {
            throw .invalid(path: path, key: key, reason: "expected text")
        }
        return value.isEmpty ? nil : value
    }

    /// Why `key` is refused: one the exporter toolkit has but lossd does not carry out, or a typo.
    private static func refusal(_ key: String, allowed: Set<String>) -> String {
        let known = allowed.sorted().joined(separator: ", ")
        switch key {
        case "tls_server_config.client_auth_type", "tls_server_config.client_ca_file", "tls_server_config.client_ca",
            "tls_server_config.client_allowed_sans":
            return "client certificates are not supported by lossd; remove the key (lossd reads \(known))"
        case "tls_server_config.cipher_suites", "tls_server_config.curve_preferences",
            "tls_server_config.prefer_server_cipher_suites":
            return "lossd uses swift-nio-ssl's default cipher suites and curves; remove the key (lossd reads \(known))"
        case "tls_server_config.cert", "tls_server_config.key":
            return "give the certificate and key as files, with cert_file and key_file"
        case "http_server_config.headers":
            return "lossd does not add response headers from this file; remove the key"
        default:
            return "not a key lossd knows here; expected one of \(known)"
        }
    }
}

/// The entries of one mapping of the file, in the file's order.
struct FileEntries {
    var pairs: [(name: String, value: Node)] = []

    /// The value of `key`, if present.
    subscript(_ key: String) -> Node? {
        pairs.first { $0.name == key }?.value
    }
}

/// The `tls_server_config` part: the certificate chain and key files, and the TLS versions.
public struct WebTLSSettings: Sendable {
    /// The PEM certificate chain (the server's certificate first), as an absolute path.
    public var certFile: String
    /// The PEM private key, as an absolute path.
    public var keyFile: String
    /// The lowest TLS version accepted (TLS 1.2 unless `min_version` says TLS13).
    public var minimumVersion: TLSVersion
    /// The highest TLS version accepted, or nil for the newest swift-nio-ssl knows.
    public var maximumVersion: TLSVersion?
    /// The server configuration, with the certificate and key loaded and checked to match.
    public let configuration: TLSConfiguration

    /// Loads and checks the certificate and key files (absolute paths).
    public init(
        certFile: String, keyFile: String, minimumVersion: TLSVersion = .tlsv12, maximumVersion: TLSVersion? = nil,
        configPath: String = "(built in)"
    ) throws(WebConfigError) {
        self.certFile = certFile
        self.keyFile = keyFile
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        configuration = try WebTLSLoader(configPath: configPath).configuration(
            certFile: certFile, keyFile: keyFile, minimumVersion: minimumVersion, maximumVersion: maximumVersion)
    }

    init(_ node: Node, file: FileKeys, folder: String) throws(WebConfigError) {
        let keys = try file.mapping(
            node, key: "tls_server_config", allowed: ["cert_file", "key_file", "min_version", "max_version"])
        let cert = try file.text(keys["cert_file"], key: "tls_server_config.cert_file")
        let key = try file.text(keys["key_file"], key: "tls_server_config.key_file")
        guard let cert else {
            throw .invalid(
                path: file.path, key: "tls_server_config.cert_file",
                reason: "missing: TLS needs the server's certificate (a PEM file)")
        }
        guard let key else {
            throw .invalid(
                path: file.path, key: "tls_server_config.key_file",
                reason: "missing: TLS needs the certificate's private key (a PEM file)")
        }
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).path
        }
        let minimum = try Self.version(keys["min_version"], key: "tls_server_config.min_version", file: file)
        let maximum = try Self.version(keys["max_version"], key: "tls_server_config.max_version", file: file)
        try self.init(
            certFile: absolute(cert), keyFile: absolute(key), minimumVersion: minimum ?? .tlsv12,
            maximumVersion: maximum, configPath: file.path)
    }

    /// `TLS12` or `TLS13` (the exporter toolkit's names); TLS 1.0 and 1.1 are refused.
    private static func version(_ node: Node?, key: String, file: FileKeys) throws(WebConfigError) -> TLSVersion? {
        switch try file.text(node, key: key) {
        case nil: return nil
        case "TLS12": return .tlsv12
        case "TLS13": return .tlsv13
        case "TLS10", "TLS11":
            throw .invalid(path: file.path, key: key, reason: "TLS 1.0 and 1.1 are not offered; use TLS12 or TLS13")
        case let other?:
            throw .invalid(path: file.path, key: key, reason: "'\(other)' is not a TLS version; use TLS12 or TLS13")
        }
    }
}
