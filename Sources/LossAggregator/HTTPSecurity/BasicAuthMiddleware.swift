import Foundation
public import Hummingbird

/// Lets a request through only with the credentials of one of ``users``
/// (`Authorization: Basic base64(user:password)`); otherwise answers 401 with
/// `WWW-Authenticate: Basic`, as the exporter toolkit does, so browsers ask for a password.
///
/// `openPaths` (for instance `/healthz`, for a load balancer's probe) need no credentials.
public struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The users let in.
    public let users: BasicAuthUsers
    /// Paths served without credentials.
    public let openPaths: Set<String>

    /// A middleware checking `users`, except on `openPaths`.
    public init(users: BasicAuthUsers, openPaths: Set<String> = []) {
        self.users = users
        self.openPaths = openPaths
    }

    /// Answers 401 unless the request is on an open path or carries a user's credentials.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        if openPaths.contains(request.uri.path) { return try await next(request, context) }
        guard let (user, password) = Self.credentials(request.headers[.authorization]),
            await users.verify(user: user, password: password)
        else {
            return Response(
                status: .unauthorized,
                headers: [.wwwAuthenticate: #"Basic realm="lossd", charset="UTF-8""#, .contentType: "text/plain"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: "Unauthorized\n")))
        }
        return try await next(request, context)
    }

    /// The user and password of a `Basic` authorization header, or nil.
    static func credentials(_ header: String?) -> (user: String, password: String)? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "basic",
            let decoded = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8),
            let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }
}
