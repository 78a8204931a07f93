import Checksums
import Foundation
import Testing

/// CRC-32C and TFRecord's masked CRC against code written by others, run in this test: Python's
/// `crc32c` package (Intel's and Mark Adler's C) and TensorBoard's own `masked_crc32c`, the one its
/// event-file writer uses. Both are installed by `scripts/install-deps.sh`.
@Suite("CRC-32C against crc32c and TensorBoard", .timeLimit(.minutes(1)))
struct IndependentImplementationTests {
    /// Buffers of many lengths and alignments, one per line as hex.
    static let buffers: [[UInt8]] = {
        let pool = CRC32CTests.randomBytes(200_000, seed: 11)
        let lengths = [
            0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 63, 64, 255, 256, 257, 767, 768, 769, 4096, 24_575, 24_576, 24_577,
            100_003, 199_000,
        ]
        return lengths.enumerated().map { index, length in Array(pool[(index % 13)..<((index % 13) + length)]) }
    }()

    static let script = """
        import sys
        import crc32c
        from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
        for line in sys.stdin:
            data = bytes.fromhex(line.strip())
            print(crc32c.crc32c(data), masked_crc32c(data))
        """

    @Test func matchesPythonsCRC32CAndTensorBoardsMaskedCRC() throws {
        let python = ProcessInfo.processInfo.environment["PYTHON"] ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", Self.script]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let text = Self.buffers.map { $0.map { String(format: "%02x", $0) }.joined() + "\n" }.joined()
        // Write from another thread: the script answers line by line while it reads.
        let writer = Thread {
            input.fileHandleForWriting.write(Data(text.utf8))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let answer = output.fileHandleForReading.readDataToEndOfFile()
        let problems = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(
            process.terminationStatus == 0,
            "the Python reference failed (run scripts/install-deps.sh): \(String(decoding: problems, as: UTF8.self))")
        let lines = String(decoding: answer, as: UTF8.self).split(separator: "\n")
        try #require(lines.count == Self.buffers.count)
        for (buffer, line) in zip(Self.buffers, lines) {
            let fields = line.split(separator: " ").compactMap { UInt32($0) }
            try #require(fields.count == 2)
            for implementation in CRC32C.Implementation.allCases {
                #expect(
                    CRC32C.checksum(buffer, implementation: implementation) == fields[0],
                    "\(buffer.count) bytes, \(implementation)")
            }
            #expect(CRC32C.maskedChecksum(buffer) == fields[1], "\(buffer.count) bytes")
        }
    }
}
