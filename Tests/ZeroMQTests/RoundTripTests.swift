import Synchronization
import Testing
import ZeroMQ

@Suite("Multipart round trips", .timeLimit(.minutes(1)))
struct RoundTripTests {
    @Test(arguments: TestTransport.allCases)
    func multipartWithEmptyAndLargeFrames(over transport: TestTransport) async throws {
        let context = try Context()
        let sent: [[UInt8]] = [
            Array(#"{"v":1,"batch":2}"#.utf8), [], patternBytes(10 * 1024 * 1024, seed: 7), [42], [],
        ]
        try await onSocketThread {
            let (push, pull) = try pushPullPair(context, over: transport)
            try push.send(sent)
            try push.send("second")
            let message = try #require(try pull.receive(timeout: .seconds(10)))
            #expect(message.isComplete)
            #expect(message.frames.count == sent.count)
            #expect(message.totalBytes == sent.reduce(0) { $0 + $1.count })
            for (index, frame) in sent.enumerated() {
                #expect(message.bytes(at: index) == frame, "frame \(index)")
            }
            let second = try #require(try pull.receive(timeout: .seconds(10)))
            #expect(second.frames.count == 1)
            #expect(second.string(at: 0) == "second")
        }
    }

    @Test func sendsFromRawBuffers() async throws {
        let context = try Context()
        try await onSocketThread {
            let (push, pull) = try pushPullPair(context, over: .inproc)
            let header = Array("header".utf8)
            let payload = patternBytes(4096)
            try header.withUnsafeBytes { headerBytes in
                try payload.withUnsafeBytes { payloadBytes in
                    try push.send([headerBytes, payloadBytes], mode: .dontWait)
                }
            }
            let message = try #require(try pull.receive(timeout: .seconds(5)))
            #expect(message.bytes(at: 0) == header)
            #expect(message.bytes(at: 1) == payload)
        }
    }

    @Test(arguments: [16, 1 << 20])
    func framesAreViewedInPlace(size: Int) async throws {
        let context = try Context()
        try await onSocketThread {
            let (push, pull) = try pushPullPair(context, over: .tcp)
            let payload = patternBytes(size, seed: 3)
            try push.send([payload])
            let message = try #require(try pull.receive(timeout: .seconds(5)))
            let first = message.frames[0].baseAddress
            #expect(first != nil)
            #expect(message[0].baseAddress == first)
            #expect(message.frames[0].baseAddress == first)
            message.withFrames { frames in
                #expect(frames[0].baseAddress == first)
                #expect(frames[0].elementsEqual(payload))
            }
        }
    }

    @Test func zeroCopySendSharesTheBufferOverInprocAndReleasesItsOwner() async throws {
        let context = try Context()
        try await onSocketThread {
            let (push, pull) = try pushPullPair(context, over: .inproc)
            weak var released: Tensor?
            do {
                let tensor = Tensor(bytes: patternBytes(1 << 20, seed: 9))
                released = tensor
                let base = UnsafeRawPointer(tensor.storage.baseAddress)
                try push.send(zeroCopy: [UnsafeRawBufferPointer(tensor.storage)], owner: tensor)
                let message = try #require(try pull.receive(timeout: .seconds(5)))
                // inproc hands over libzmq's message itself: the receiver sees the sender's bytes.
                #expect(message.frames[0].baseAddress == base)
                #expect(message.frames[0].elementsEqual(patternBytes(1 << 20, seed: 9)))
                withExtendedLifetime(message) {
                    #expect(released != nil, "the message keeps the tensor alive")
                }
            }
            #expect(released == nil, "freeing the message released the tensor")
        }
    }

    @Test func aReceivedMessageCanMoveToAnotherThread() async throws {
        let context = try Context()
        let message = try await onSocketThread {
            let (push, pull) = try pushPullPair(context, over: .tcp)
            try push.send([Array("header".utf8), patternBytes(100_000)])
            return try #require(try pull.receive(timeout: .seconds(5)))
        }
        let total = try await onSocketThread("zmq-worker") {
            #expect(message.bytes(at: 1) == patternBytes(100_000))
            return message.totalBytes
        }
        #expect(total == 100_006)
    }
}

/// A buffer that owns its bytes; frees them when released.
/// `@unchecked Sendable`: the bytes are written once in `init` and only read afterwards.
final class Tensor: @unchecked Sendable {
    let storage: UnsafeMutableRawBufferPointer

    init(bytes: [UInt8]) {
        storage = .allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { storage.copyMemory(from: $0) }
    }

    deinit { storage.deallocate() }
}
