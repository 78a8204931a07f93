import Foundation
import NIOSSL

/// Loads a certificate chain and its private key with swift-nio-ssl, turning its terse errors
/// into sentences that name the file and the problem.
struct WebTLSLoader {
    /// The web configuration file being read, for the errors.
    let configPath: String

    /// A server configuration with the chain and the key, checked to belong together (by building
    /// a TLS context from them, as the server will).
    func configuration(
        certFile: String, keyFile: String, minimumVersion: TLSVersion, maximumVersion: TLSVersion?
    ) throws(WebConfigError) -> TLSConfiguration {
        try readable(certFile, key: "tls_server_config.cert_file", what: "certificate")
        try readable(keyFile, key: "tls_server_config.key_file", what: "private key")
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certFile)
        } catch {
            throw .invalid(
                path: configPath, key: "tls_server_config.cert_file",
                reason: "\(certFile) holds no PEM certificate swift-nio-ssl can read (\(error))")
        }
        guard !chain.isEmpty else {
            throw .invalid(
                path: configPath, key: "tls_server_config.cert_file",
                reason: "\(certFile) holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)")
        }
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw .invalid(
                path: configPath, key: "tls_server_config.key_file",
                reason: "\(keyFile) holds no unencrypted PEM private key swift-nio-ssl can read (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(privateKey))
        configuration.minimumTLSVersion = minimumVersion
        configuration.maximumTLSVersion = maximumVersion
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw .invalid(
                path: configPath, key: "tls_server_config.key_file",
                reason: "\(keyFile) is not the private key of the certificate in \(certFile) (\(error))")
        }
        return configuration
    }

    /// Fails with a sentence when `file` is missing or cannot be read.
    private func readable(_ file: String, key: String, what: String) throws(WebConfigError) {
        guard FileManager.default.fileExists(atPath: file) else {
            throw .invalid(path: configPath, key: key, reason: "the \(what) file \(file) does not exist")
        }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw .invalid(
                path: configPath, key: key,
                reason: "the \(what) file \(file) cannot be read by this user (check its permissions)")
        }
    }
}
