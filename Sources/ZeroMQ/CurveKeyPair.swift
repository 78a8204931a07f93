import CZeroMQ

/// A CURVE long-term key pair as Z85 text (40 characters each), as `zmq_curve_keypair` makes it.
///
/// A server sets ``SocketOption/curveServer(_:)``, its ``secretKey`` and ``publicKey``; each
/// client sets its own pair and the server's public key as ``SocketOption/curveServerKey(_:)``.
/// The secret key is a credential: keep it out of logs and records.
public struct CurveKeyPair: Sendable, Hashable {
    /// The key to hand to peers.
    public var publicKey: String
    /// The key to keep.
    public var secretKey: String

    /// Creates a pair from keys made elsewhere (e.g. read from a file).
    public init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Generates a new random pair; fails when libzmq lacks CURVE (see
    /// ``ZeroMQ/hasCapability(_:)``).
    public static func generate() throws(ZeroMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZeroMQError.last("generate a CURVE key pair (is libzmq built with CURVE?)")
        }
        return CurveKeyPair(publicKey: string(publicText), secretKey: string(secretText))
    }

    /// The socket options that make a socket the CURVE server with this pair.
    public var serverOptions: [SocketOption] {
        [.curveServer(true), .curvePublicKey(publicKey), .curveSecretKey(secretKey)]
    }

    /// The socket options that make a socket a CURVE client with this pair, trusting `serverKey`.
    public func clientOptions(serverKey: String) -> [SocketOption] {
        [.curveServerKey(serverKey), .curvePublicKey(publicKey), .curveSecretKey(secretKey)]
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
