#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A dedicated, named OS thread that runs one body, typically owning one or more sockets.
///
/// Blocking ZeroMQ calls must not run on Swift's cooperative thread pool; a `SocketThread` gives
/// them a thread of their own. Create sockets inside the body (or use
/// ``init(name:context:type:body:)``, which creates one there and closes it after), so that the
/// thread is the only one ever to touch them. To stop a thread blocked in a receive, call
/// ``Context/shutdown()``: the receive throws ``ZeroMQError/terminated`` and the body should return.
///
/// Wait for the outcome with ``join()`` from another OS thread, or with ``value`` from async code.
public final class SocketThread<Success: Sendable>: Sendable {
    /// The thread's name, as shown by `top -H` and debuggers (the OS keeps its first 15 bytes).
    public let name: String
    private let outcome = Latch<Result<Success, any Error>>()

    /// Starts a thread called `name` that runs `body`.
    ///
    /// Throws ``ZeroMQError/failed(operation:errno:message:)`` if the OS cannot start a thread.
    public init(name: String, body: @escaping @Sendable () throws -> Success) throws(ZeroMQError) {
        self.name = name
        let outcome = self.outcome
        let start = Start(name: name) {
            outcome.open(Result { try body() })
        }
        try start.launch()
    }

    /// Starts a thread called `name` that creates a `type` socket in `context`, runs `body` with
    /// it and closes it when `body` returns or throws.
    public convenience init(
        name: String, context: Context, type: SocketType,
        body: @escaping @Sendable (Socket) throws -> Success
    ) throws(ZeroMQError) {
        try self.init(name: name) {
            let socket = try Socket(context, type: type)
            defer { socket.close() }
            return try body(socket)
        }
    }

    /// Blocks the calling OS thread until the body has finished, then returns what it returned
    /// or rethrows what it threw. May be called from several threads and more than once.
    @available(*, noasync, message: "join() blocks its thread; use `await thread.value` in async code")
    public func join() throws -> Success {
        try outcome.wait().get()
    }

    /// The body's result once it has finished, awaited without blocking a thread.
    ///
    /// Cancelling the awaiting task does not end the wait: the thread is still running, and
    /// whatever it owns is released only when it returns. Stop it first (for instance with
    /// ``Context/shutdown()``), then await its value.
    public var value: Success {
        get async throws {
            try await outcome.value.get()
        }
    }

    /// Whether the body has finished.
    public var isFinished: Bool {
        outcome.isOpen
    }

    /// Runs `body` on a new thread called `name` and waits for it without blocking the caller.
    public static func run(
        name: String, _ body: @escaping @Sendable () throws -> Success
    ) async throws -> Success {
        try await SocketThread(name: name, body: body).value
    }
}

/// What a new pthread runs: names itself, then the body. Passed through `pthread_create` retained.
private final class Start: Sendable {
    let name: String
    let body: @Sendable () -> Void

    init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
    }

    /// Starts a detached pthread running ``run()``.
    func launch() throws(ZeroMQError) {
        let argument = Unmanaged.passRetained(self).toOpaque()
        #if canImport(Glibc)
        var thread = pthread_t()
        #else
        var thread: pthread_t?
        #endif
        let status = pthread_create(
            &thread, nil,
            { argument in
                #if canImport(Glibc)
                guard let argument else { return nil }
                #endif
                Unmanaged<Start>.fromOpaque(argument).takeRetainedValue().run()
                return nil
            }, argument)
        guard status == 0 else {
            Unmanaged<Start>.fromOpaque(argument).release()
            throw .failed(operation: "start thread \(name)", errno: status, message: ZeroMQError.text(status))
        }
        #if canImport(Glibc)
        pthread_detach(thread)
        #else
        if let thread { pthread_detach(thread) }
        #endif
    }

    private func run() {
        // Linux keeps 15 bytes of a thread name; cut at a character boundary.
        var shortName = ""
        for character in name where shortName.utf8.count + character.utf8.count <= 15 {
            shortName.append(character)
        }
        #if canImport(Glibc)
        if let setName = Start.setThreadName {
            _ = setName(pthread_self(), shortName)
        }
        #else
        pthread_setname_np(shortName)
        #endif
        body()
    }

    #if canImport(Glibc)
    /// glibc's `pthread_setname_np`, which Swift's Glibc module hides (it is a GNU extension).
    private static let setThreadName: (@convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32)? = {
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "pthread_setname_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (pthread_t, UnsafePointer<CChar>) -> Int32).self)
    }()
    #endif
}
