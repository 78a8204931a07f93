import Foundation
import SwiftProtobuf
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes one TensorBoard event file: scalars per step and restart markers, as TFRecord records
/// of `Event` protocol buffers (the messages in `Protos/`, encoded with swift-protobuf).
///
/// The file is `FOLDER/events.out.tfevents.<unix time>.<host>.<pid>.<n>`, the name TensorFlow's
/// writers use, so TensorBoard finds it; its first record names the format (`brain.Event:2`).
/// Records are kept in memory until ``flush()``: call it every few seconds and before closing.
/// Each tag's first value carries its description, as TensorFlow's writers do.
///
/// Not thread-safe: one owner (lossd's aggregator writer thread) uses it.
public final class EventFileWriter {
    /// The file's path.
    public let path: String
    private let file: FileDescriptor
    private var buffer: [UInt8] = []
    private var describedTags: Set<String> = []
    private var isClosed = false

    /// Creates the folder (with its parents) and a new event file in it, and writes the file's
    /// first record.
    ///
    /// - Parameters:
    ///   - folder: where the file goes; TensorBoard shows each folder as a run.
    ///   - time: the creation time, seconds since the Unix epoch (in the name and first record).
    ///   - writer: who writes the file, recorded in its first record.
    /// - Throws: ``EventFileError`` when the folder or the file cannot be created.
    public init(folder: String, time: Double, writer: String = "lossd") throws(EventFileError) {
        try Self.createFolder(folder)
        let name = "events.out.tfevents.\(Int(time)).\(Self.hostName()).\(getpid()).\(Self.nextNumber())"
        path = (folder as NSString).appendingPathComponent(name)
        do {
            file = try FileDescriptor.open(
                FilePath(path), .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec],
                permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw .open(path: path, reason: "\(error)")
        }
        var first = Tensorboard_Event()
        first.wallTime = time
        first.fileVersion = "brain.Event:2"
        first.sourceMetadata.writer = writer
        append(first)
    }

    /// Creates `folder` and its parents, if they do not exist yet.
    ///
    /// - Throws: ``EventFileError/folder(path:reason:)`` when it cannot, or when the path is a file.
    public static func createFolder(_ folder: String) throws(EventFileError) {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) {
            guard isFolder.boolValue else { throw .folder(path: folder, reason: "it is a file, not a folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw .folder(path: folder, reason: "\(error.localizedDescription)")
        }
    }

    deinit {
        if !isClosed { try? file.close() }
    }

    /// Adds scalars at `step`; a value that is not finite is left out (TensorBoard cannot draw it).
    public func add(_ values: [ScalarValue], step: Int, time: Double) {
        var summary = Tensorboard_Summary()
        for scalar in values where scalar.value.isFinite {
            var value = Tensorboard_Summary.Value()
            value.tag = scalar.tag
            value.simpleValue = Float(scalar.value)
            if describedTags.insert(scalar.tag).inserted {
                value.metadata.pluginData.pluginName = "scalars"
                value.metadata.dataClass = .scalar
            }
            summary.value.append(value)
        }
        guard !summary.value.isEmpty else { return }
        var event = Tensorboard_Event()
        event.wallTime = time
        event.step = Int64(step)
        event.summary = summary
        append(event)
    }

    /// Adds a restart marker at `step` (a `SessionLog` `START`): TensorBoard drops every value it
    /// read from step `step` on, so that the values written after the marker take their place.
    public func addRestart(step: Int, time: Double, message: String = "") {
        var event = Tensorboard_Event()
        event.wallTime = time
        event.step = Int64(step)
        event.sessionLog.status = .start
        event.sessionLog.msg = message
        append(event)
    }

    /// Writes the records added since the last flush to the file.
    ///
    /// - Throws: ``EventFileError/write(path:reason:)``; the records stay buffered for the next try.
    public func flush() throws(EventFileError) {
        guard !buffer.isEmpty, !isClosed else { return }
        do {
            _ = try file.writeAll(buffer)
        } catch {
            throw .write(path: path, reason: "\(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes the file.
    public func close() throws(EventFileError) {
        guard !isClosed else { return }
        defer {
            isClosed = true
            try? file.close()
        }
        try flush()
    }

    private func append(_ event: Tensorboard_Event) {
        // Encoding a message built here from plain values cannot fail.
        guard let bytes: [UInt8] = try? event.serializedBytes() else { return }
        TFRecord.append(bytes, to: &buffer)
    }

    private static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return host.isEmpty ? "localhost" : host
    }

    /// A number per file of this process, so that two files made in the same second differ.
    private static func nextNumber() -> Int {
        counter.withLock { value in
            value += 1
            return value
        }
    }

    private static let counter = Mutex(0)
}
