public import Foundation

/// Certificates for TLS tests, made by `openssl` in the test's own folder and deleted with it: no
/// private key is ever part of the repository.
public enum TestCertificates {
    /// The files of a self-signed server certificate for `127.0.0.1` and `localhost`.
    public struct Files: Sendable {
        /// The PEM certificate (also what a client trusts: it is its own issuer).
        public var certificate: String
        /// Its PEM private key.
        public var key: String
        /// A second PEM private key that does not belong to the certificate.
        public var otherKey: String
    }

    /// Why the certificates could not be made.
    public struct Failure: Error, CustomStringConvertible {
        /// What openssl said.
        public var description: String
    }

    /// Makes `server.crt`, `server.key` and `other.key` in `folder` with openssl (ECDSA P-256,
    /// valid for a day).
    public static func make(in folder: URL) throws -> Files {
        let certificate = folder.appendingPathComponent("server.crt").path
        let key = folder.appendingPathComponent("server.key").path
        let otherKey = folder.appendingPathComponent("other.key").path
        try openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", key, "-out", certificate,
        ])
        try openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out", otherKey])
        return Files(certificate: certificate, key: key, otherKey: otherKey)
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(
                description:
                    "openssl \(arguments.joined(separator: " ")) failed: \(String(decoding: output, as: UTF8.self))"
            )
        }
    }
}
