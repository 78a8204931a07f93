import Foundation
import SSDLoss
import Testing

@testable import LossWire

@Suite("Python snippets of docs/PROTOCOL.md")
struct PythonSnippetTests {
    private func readAll(_ base64: String, name: String) throws -> [DecodedBatch] {
        let directory = try TemporaryDirectory()
        let path = directory.path(name)
        let data = try #require(Data(base64Encoded: base64, options: .ignoreUnknownCharacters))
        try data.write(to: URL(fileURLWithPath: path))
        let reader = try RecordingReader(path: path)
        var batches: [DecodedBatch] = []
        while let message = try reader.next() {
            batches.append(try BatchDecoder.decode(message, defaults: LossParameters()))
        }
        return batches
    }

    private func float32(_ buffer: UnsafeRawBufferPointer, _ index: Int) -> Float {
        Float(bitPattern: UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: index * 4, as: UInt32.self)))
    }

    @Test func theRecordingSnippetWritesAValidRecording() throws {
        let batches = try readAll(PythonFixtures.writeRecording, name: "python.lossrec")
        #expect(batches.count == 4)
        for (seq, batch) in batches.enumerated() {
            #expect(batch.shape == BatchShape(batch: 2, boxes: 8, classes: 4))
            #expect(batch.labels == BatchLabels(run: "demo", split: "train", source: "rank0", seq: seq))
            #expect(batch.message.receiveTimeNs > 0)
        }
        for (seq, batch) in batches.prefix(3).enumerated() {
            #expect(batch.layout == .keras)
            #expect(batch.dtype == .float32)
            batch.withInput { input in
                guard case .keras(let yTrue, _) = input else { return }
                // y_true[0, seq, 1] == 1 and y_true[0, seq, 0] == 0: the one positive box.
                #expect(float32(yTrue, seq * 16 + 1) == 1)
                #expect(float32(yTrue, seq * 16) == 0)
                #expect(float32(yTrue, 16 * 8) == 1)  // y_true[1, 0, 0]: background
            }
        }
        let compact = batches[3]
        #expect(compact.layout == .compact)
        #expect(compact.dtype == .float16)
        #expect(compact.parameters == LossParameters(negPosRatio: 2, mining: .image))
        compact.withInput { input in
            guard case .compact(let labels, _, _, _) = input else { return }
            #expect(labels.loadUnaligned(as: Int32.self) == 1)
        }
    }

    @Test func theSendSnippetBuildsAValidMessage() throws {
        let batches = try readAll(PythonFixtures.sentMessage, name: "sent.lossrec")
        let batch = try #require(batches.first)
        #expect(batches.count == 1)
        #expect(
            batch.header.labels == BatchLabels(run: "demo", split: "train", source: "rank0", epoch: 0, step: 0, seq: 0))
        #expect(batch.parameters == LossParameters())
    }
}
