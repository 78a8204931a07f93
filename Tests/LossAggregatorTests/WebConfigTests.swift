import Foundation
import LossAggregator
import LossdTestSupport
import Testing

/// The web configuration file: what it accepts, what it refuses and how the refusal reads.
@Suite("web configuration file", .timeLimit(.minutes(1)))
struct WebConfigTests {
    /// `htpasswd -nbBC 4 prometheus secret`: Apache's bcrypt, an implementation independent of lossd's.
    static let secretHash = "$2y$04$qe.7mnrrzjcVsKVXpf500.2mL7qKVGYQXA7XKZw3lOAtGsESVdp5u"

    private func folder() throws -> URL {
        let url = URL(fileURLWithPath: "/tmp").appendingPathComponent("lossd-wc-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    private func write(_ text: String, in folder: URL, name: String = "web.yml") throws -> String {
        let path = folder.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The error `WebConfig.load` throws for `text`, as a sentence.
    private func refusal(_ text: String, in folder: URL) throws -> String {
        let path = try write(text, in: folder)
        do {
            _ = try WebConfig.load(path: path)
        } catch {
            return error.description
        }
        Issue.record("\(text) was accepted")
        return ""
    }

    @Test("TLS with relative paths and users with htpasswd's bcrypt hashes; passwords checked")
    func complete() async throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try TestCertificates.make(in: folder)
        let path = try write(
            """
            tls_server_config:
              cert_file: server.crt
              key_file: server.key
              min_version: TLS13
            http_server_config:
              http2: false
            basic_auth_users:
              prometheus: \(Self.secretHash)
            """, in: folder)
        let config = try WebConfig.load(path: path)
        let tls = try #require(config.tls)
        #expect(tls.certFile == folder.appendingPathComponent("server.crt").path)
        #expect(tls.keyFile == folder.appendingPathComponent("server.key").path)
        #expect(tls.minimumVersion == .tlsv13)
        #expect(config.users.names == ["prometheus"])
        #expect(await config.users.verify(user: "prometheus", password: "secret"))
        #expect(await config.users.verify(user: "prometheus", password: "secret"))  // remembered
        #expect(!(await config.users.verify(user: "prometheus", password: "Secret")))
        #expect(!(await config.users.verify(user: "nobody", password: "secret")))
    }

    @Test("basic authentication alone, TLS alone, and an empty file are each accepted")
    func partial() throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try TestCertificates.make(in: folder)
        let usersOnly = try WebConfig.load(
            path: try write("basic_auth_users:\n  a: \(Self.secretHash)\n", in: folder))
        #expect(usersOnly.tls == nil && usersOnly.users.names == ["a"])
        let tlsOnly = try WebConfig.load(
            path: try write(
                "tls_server_config:\n  cert_file: \(files.certificate)\n  key_file: \(files.key)\n", in: folder))
        #expect(tlsOnly.tls != nil && tlsOnly.users.isEmpty)
        let empty = try WebConfig.load(path: try write("", in: folder))
        #expect(empty.tls == nil && empty.users.isEmpty)
    }

    @Test("a bad file is refused with the file, the key and what to do")
    func refusals() throws {
        let folder = try folder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let files = try TestCertificates.make(in: folder)
        let garbage = try write("not a key\n", in: folder, name: "garbage.key")
        let cases: [(String, [String])] = [
            (
                "tls_server_config:\n  cert_file: missing.crt\n  key_file: \(files.key)\n",
                ["tls_server_config.cert_file", "missing.crt does not exist"]
            ),
            ("tls_server_config:\n  key_file: \(files.key)\n", ["tls_server_config.cert_file", "missing"]),
            (
                "tls_server_config:\n  cert_file: \(files.certificate)\n  key_file: \(garbage)\n",
                ["tls_server_config.key_file", "no unencrypted PEM private key"]
            ),
            (
                "tls_server_config:\n  cert_file: \(files.certificate)\n  key_file: \(files.otherKey)\n",
                ["tls_server_config.key_file", "is not the private key of the certificate"]
            ),
            (
                "tls_server_config:\n  cert_file: \(garbage)\n  key_file: \(files.key)\n",
                ["tls_server_config.cert_file", "PEM certificate"]
            ),
            (
                "tls_server_config:\n  cert_file: \(files.certificate)\n  key_file: \(files.key)\n"
                    + "  min_version: TLS10\n",
                ["min_version", "TLS12 or TLS13"]
            ),
            ("basic_auth_users:\n  prometheus: secret\n", ["basic_auth_users.prometheus", "not a bcrypt hash"]),
            ("basic_auth_users:\n  prometheus: $1$abc$0123456789\n", ["not a bcrypt hash", "htpasswd -nbBC 10"]),
            (
                "tls_server_config:\n  client_auth_type: RequireAndVerifyClientCert\n",
                ["tls_server_config.client_auth_type", "client certificates are not supported"]
            ),
            ("basic_auth_user:\n  a: b\n", ["basic_auth_user", "expected one of basic_auth_users"]),
            ("tls_server_config: [1, 2\n", ["not valid YAML"]),
        ]
        for (text, expected) in cases {
            let message = try refusal(text, in: folder)
            for part in expected { #expect(message.contains(part), "\(text) → \(message)") }
            #expect(message.contains("web.yml"), "the file is named: \(message)")
        }
        #expect(throws: WebConfigError.self) { try WebConfig.load(path: folder.appendingPathComponent("no.yml").path) }
    }
}
