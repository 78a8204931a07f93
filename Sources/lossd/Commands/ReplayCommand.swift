import ArgumentParser
import Foundation
import LossPipeline
import LossWire
import ZeroMQ

/// `lossd replay`: recordings in, one record per batch out, then a summary.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Compute the loss of every batch in .lossrec recordings.",
        discussion: """
            Writes one JSON record per recorded message (a loss record, or an error record for a \
            message that cannot be computed), in recording order whatever --workers is, and then \
            one closing line {"kind":"summary",…} with the number of batches, the errors by code \
            and the batch-size-weighted mean loss, classification and localization.

            Exit status: 0 when every file was read whole; 2 when a file was damaged or truncated \
            (its good records are still processed, and the message names the file, the byte \
            offset and the number of good records); 64 for usage errors.

            Examples:
              lossd replay Examples/sample.lossrec
              lossd replay run1.lossrec run2.lossrec --workers 2 --output losses.jsonl
              lossd replay batches.lossrec --pace realtime --mining image
            """
    )

    @Argument(help: "Recordings to replay, in order.", completion: .file(extensions: ["lossrec"]))
    var files: [String]

    @Option(name: .shortAndLong, help: "Where records go: - for standard output, or a path ending in .jsonl.")
    var output: String = "-"

    @Option(help: "Worker threads computing losses (default: the number of cores).")
    var workers: Int = Terminal.cores

    @Option(help: "How fast to feed batches: max, or realtime (the recorded gaps between messages).")
    var pace: ReplayPace = .max

    @Option(help: "The identifier written in each loss record's sidecar field (default: host:pid).")
    var sidecarId: String?

    @Flag(name: .shortAndLong, help: "No progress line on standard error.")
    var quiet = false

    @OptionGroup(title: "Loss defaults (a batch header's own settings win)")
    var loss: LossOptions

    @Option(
        help: ArgumentHelp(
            "A YAML settings file; its loss.* and limits.* keys give defaults.",
            discussion: "Flags win over LOSSD_* environment variables, which win over the file."))
    var config: String?

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("Give at least one .lossrec file to replay.") }
        guard workers >= 1 else { throw ValidationError("--workers must be at least 1.") }
        guard output == "-" || output.hasSuffix(".jsonl") else {
            throw ValidationError("--output takes - (standard output) or a path ending in .jsonl, not '\(output)'.")
        }
        for file in files {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
                throw ValidationError("No such file: \(file)")
            }
            guard !isDirectory.boolValue else { throw ValidationError("\(file) is a folder; give .lossrec files.") }
            guard FileManager.default.isReadableFile(atPath: file) else {
                throw ValidationError("\(file) cannot be read (permissions?).")
            }
        }
    }

    func run() async throws {
        let settings: SettingsReader
        var processor: BatchProcessor
        do {
            settings = try await SettingsReader.load(flags: loss.flagValues, configFile: config)
            processor = try BatchProcessor(reading: settings)
        } catch {
            throw ValidationError("\(error)")
        }
        if let sidecarId { processor.sidecarID = sidecarId }
        let output = self.output
        let replayer = Replayer(
            options: ReplayOptions(files: files, workers: workers, pace: pace, processor: processor))
        let showProgress = !quiet && Terminal.standardErrorIsTerminal
        // Reading and the worker pool block their threads: run them off the cooperative pool.
        let complete = try await SocketThread<Bool>.run(name: "replay") {
            try Self.replay(replayer, output: output, showProgress: showProgress)
        }
        if !complete { throw ExitCode(2) }
    }

    /// Runs the replay on the calling thread; true when every file was read and every record written.
    private static func replay(_ replayer: Replayer, output: String, showProgress: Bool) throws -> Bool {
        let sink: JSONLinesSink
        do {
            sink = output == "-" ? .standardOutput() : try JSONLinesSink(path: output)
        } catch {
            throw ValidationError("\(error)")
        }
        let outcome = replayer.run(sink: sink, progress: showProgress ? { Self.showProgress($0) } : nil)
        if showProgress { Terminal.endStatus() }
        return finish(outcome, sink: sink)
    }

    /// Writes the summary, reports problems on standard error; true when everything was read and written.
    private static func finish(_ outcome: Replayer.Outcome, sink: JSONLinesSink) -> Bool {
        var complete = outcome.outputError == nil
        do {
            try sink.writeLine(outcome.summary.jsonLine(files: outcome.files))
            try sink.close()
        } catch {
            Terminal.warn("\(error)")
            complete = false
        }
        if let outputError = outcome.outputError { Terminal.warn(outputError) }
        for file in outcome.files {
            guard let damage = file.damage else { continue }
            Terminal.warn(
                """
                \(file.path): stopped at byte \(damage.offset) after \(file.records) good records: \
                \(damage.message). The good records were processed.
                """
            )
            complete = false
        }
        return complete
    }

    private static func showProgress(_ progress: ReplayProgress) {
        let seconds = max(1e-9, progress.startedAt.duration(to: .now) / .seconds(1))
        let megabytes = Double(progress.bytes) / 1_048_576
        Terminal.status(
            String(
                format: "replay: %d read, %d written, %.0f MB, %.1f batches/s, %.0f MB/s",
                progress.messages, progress.written, megabytes, Double(progress.written) / seconds, megabytes / seconds)
        )
    }
}
