import Synchronization

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
    private let state = Mutex<State>(State())
    private let finished = Latch()

    private struct State {
        var outcome: Result<Success, any Error>?
        var waiters: [CheckedContinuation<Result<Success, any Error>, Never>] = []
    }

    /// Starts a thread called `name` that runs `body`.
    ///
    /// Throws ``ZeroMQError/failed(operation:errno:message:)`` if the OS cannot start a thread.
    public init(name: String, body: @escaping @Sendable () throws -> Success) throws(ZeroMQError) {
        self.name = name
        let start = Start(name: name) { [self] in
            let outcome = Result { try body() }
            let waiters = state.withLock { state in
                state.outcome = outcome
                defer { state.waiters = [] }
                return state.waiters
            }
            finished.open()
            for waiter in waiters {
                waiter.resume(returning: outcome)
            }
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
        finished.wait()
        guard let outcome = state.withLock({ $0.outcome }) else {
            preconditionFailure("SocketThread \(name) opened its latch without an outcome")
        }
        return try outcome.get()
    }

    /// The body's result once it has finished, awaited without blocking a thread.
    public var value: Success {
        get async throws {
            let outcome = await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Result<Success, any Error>? in
                    if state.outcome == nil {
                        state.waiters.append(continuation)
                    }
                    return state.outcome
                }
                if let ready {
                    continuation.resume(returning: ready)
                }
            }
            return try outcome.get()
        }
    }

    /// Whether the body has finished.
    public var isFinished: Bool {
        state.withLock { $0.outcome != nil }
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
        let status = pthread_create(&thread, nil, { argument in
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
