import Foundation
import ZeroMQ

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A minimal HTTP/1.1 GET over a real TCP connection to 127.0.0.1, for testing servers without a
/// client library: one request, `Connection: close`, the whole answer read until the server closes.
public enum HTTPGet {
    /// A parsed answer.
    public struct Response: Sendable {
        /// The status code, e.g. 200.
        public var status: Int
        /// The header fields, names in lower case.
        public var headers: [String: String]
        /// The body as UTF-8 text.
        public var body: String
    }

    /// Why there is no answer: the connection failed (with `errno`), or the answer is not HTTP.
    public enum Failure: Error {
        case connect(Int32)
        case malformed(String)
    }

    /// GETs `path` from 127.0.0.1:`port` on a thread of its own, so that the wait never blocks
    /// the cooperative pool the server under test may need to answer.
    public static func fetch(port: Int, path: String, timeout: Double = 10) async throws -> Response {
        try await SocketThread.run(name: "http-get") { try get(port: port, path: path, timeout: timeout) }
    }

    /// GETs `path` from 127.0.0.1:`port`, blocking the calling thread at most `timeout` seconds.
    public static func get(port: Int, path: String, timeout: Double = 10) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure.connect(errno) }
        defer { close(fd) }
        var time = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure.connect(errno) }
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            data.append(contentsOf: buffer[..<count])
        }
        let text = String(decoding: data, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure.malformed(text) }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.count >= 12, let status = Int(statusLine.split(separator: " ")[1])
        else {
            throw Failure.malformed(text)
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = String(text[split.upperBound...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" {
            body = dechunk(body)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// The payload of a chunked body.
    private static func dechunk(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let chunk = rest.utf8[start...].prefix(size)
            result += String(decoding: chunk, as: UTF8.self)
            rest = Substring(rest.utf8[rest.utf8.index(start, offsetBy: size)...]).dropFirst(2)
        }
        return result
    }
}
