import Logging
import TensorBoardEvents

/// Writes the steps of every (run, split) to TensorBoard event files under one folder
/// (`--tensorboard DIR`): `DIR/<run>/<split>/events.out.tfevents.…`, which TensorBoard shows as
/// the run `<run>/<split>`.
///
/// Each closed step becomes one event at its step number (docs/DISTRIBUTED.md lists the tags):
/// the pooled and mean loss, classification and localization and their EMA (complete steps only),
/// and the ranks that arrived, the run's lost batches and the split's error records (every closed
/// step). When steps the files already hold change (a resume replaced them, a partial step closed
/// after later ones), a restart marker at the lowest changed step makes TensorBoard drop its values
/// from there on, and every closed step from there on is written again.
///
/// Owned by the aggregator's writer thread, which calls ``write(_:at:)`` about once a second and
/// ``close()`` at shutdown.
final class TensorBoardExport {
    /// The folder given with `--tensorboard`.
    let folder: String
    private let logger: Logger
    private var writers: [SplitKey: EventFileWriter] = [:]
    /// (run, split) pairs whose folder could not be written; reported once each.
    private var failed: Set<SplitKey> = []

    /// An export into `folder`, created now (with its parents) so that a folder that cannot be
    /// created stops the daemon at start.
    init(folder: String, logger: Logger) throws(EventFileError) {
        self.folder = folder
        self.logger = logger
        try Self.createFolder(folder)
    }

    /// Writes the changes and flushes every file.
    func write(_ changes: [(key: SplitKey, changes: StepChanges)], at time: Double) {
        for (key, change) in changes {
            guard let writer = writer(for: key, at: time) else { continue }
            if let purgeFrom = change.purgeFrom {
                writer.addRestart(step: purgeFrom, time: time, message: "lossd: steps from \(purgeFrom) on replaced")
            }
            for step in change.steps {
                writer.add(Self.scalars(of: step), step: step.step, time: step.time ?? time)
            }
        }
        for (key, writer) in writers {
            do {
                try writer.flush()
            } catch {
                // A file that cannot be written (a full disk) is given up: its records would only
                // pile up in memory. The statistics go on; the log says which run stopped.
                report(key, error)
                writers[key] = nil
            }
        }
    }

    /// Flushes and closes every file.
    func close() {
        for (key, writer) in writers {
            do {
                try writer.close()
            } catch {
                report(key, error)
            }
        }
        writers = [:]
    }

    /// The values TensorBoard gets for one step.
    static func scalars(of step: StepSnapshot) -> [ScalarValue] {
        var values: [ScalarValue] = []
        if step.status == .complete {
            for (figure, figures) in [("pooled", step.pooled), ("mean", step.mean), ("ema", step.ema)] {
                for (component, value) in figures.named {
                    if let value { values.append(ScalarValue(tag: "\(component)/\(figure)", value: value)) }
                }
            }
        }
        values.append(ScalarValue(tag: "steps/ranks", value: Double(step.ranks)))
        if let lost = step.lost { values.append(ScalarValue(tag: "steps/lost_batches", value: Double(lost))) }
        if let errors = step.errors { values.append(ScalarValue(tag: "steps/error_records", value: Double(errors))) }
        return values
    }

    /// `run/split` as two path components that cannot leave the folder: bytes other than
    /// letters, digits, `_`, `-` and a `.` that does not lead are written `%XX`; an empty name is `%`.
    static func relativePath(_ key: SplitKey) -> String {
        component(key.run) + "/" + component(key.split)
    }

    static func component(_ name: String) -> String {
        guard !name.isEmpty else { return "%" }
        var text = ""
        for (index, byte) in name.utf8.enumerated() {
            let safe =
                (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
                || (byte == UInt8(ascii: ".") && index > 0)
            if safe {
                text.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                text += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return text
    }

    private func writer(for key: SplitKey, at time: Double) -> EventFileWriter? {
        if let writer = writers[key] { return writer }
        guard !failed.contains(key) else { return nil }
        do {
            let writer = try EventFileWriter(folder: folder + "/" + Self.relativePath(key), time: time)
            writers[key] = writer
            logger.info(
                "TensorBoard event file started",
                metadata: [
                    "run": "\(key.run)", "split": "\(key.split)",
                    "path": "\(writer.path)",
                ])
            return writer
        } catch {
            report(key, error)
            return nil
        }
    }

    private func report(_ key: SplitKey, _ error: EventFileError) {
        if failed.insert(key).inserted {
            logger.error(
                "\(error) No more TensorBoard events are written for this run and split until lossd restarts.",
                metadata: ["run": "\(key.run)", "split": "\(key.split)"])
        }
    }

    private static func createFolder(_ folder: String) throws(EventFileError) {
        // Each (run, split)'s folder is created with its first file; the root is checked now.
        try EventFileWriter.createFolder(folder)
    }
}
