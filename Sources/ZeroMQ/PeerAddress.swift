#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The remote address of an accepted socket descriptor, as `host:port` (`[host]:port` for IPv6).
enum PeerAddress {
    /// The peer of `descriptor` (`getpeername`), a connection accepted at `endpoint` (the bound
    /// endpoint an accepted event names, `tcp://host:port`), as `host:port`.
    ///
    /// Nil when the descriptor is closed, not connected or not an IP socket (an ipc connection
    /// has no address worth naming), and when its local port is not the endpoint's. By the time an event is read, its
    /// descriptor may have been closed and reused, by another socket of the process (an HTTP
    /// connection, an outgoing ZeroMQ one) or by a later connection to the same port; the first
    /// is caught here, the second by ``HandshakeMonitor``.
    static func ofAccepted(_ descriptor: Int32, at endpoint: String) -> String? {
        guard let peer = address(of: descriptor, local: false) else { return nil }
        if let boundPort = endpoint.split(separator: ":").last.flatMap({ UInt16($0) }) {
            guard let local = address(of: descriptor, local: true), local.port == boundPort else { return nil }
        }
        return peer.text
    }

    /// One end of `descriptor`: its peer (`getpeername`) or its own (`getsockname`) address.
    private static func address(of descriptor: Int32, local: Bool) -> (text: String, port: UInt16)? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                local ? getsockname(descriptor, $0, &length) : getpeername(descriptor, $0, &length)
            }
        }
        guard status == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { address in
                    var ip = address.pointee.sin_addr
                    guard inet_ntop(AF_INET, &ip, &text, socklen_t(text.count)) != nil else { return nil }
                    let port = UInt16(bigEndian: address.pointee.sin_port)
                    return ("\(string(text)):\(port)", port)
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) { pointer in
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { address in
                    var ip = address.pointee.sin6_addr
                    guard inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count)) != nil else { return nil }
                    let port = UInt16(bigEndian: address.pointee.sin6_port)
                    return ("[\(string(text))]:\(port)", port)
                }
            }
        default:
            return nil
        }
    }

    private static func string(_ text: [CChar]) -> String {
        String(decoding: text.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
