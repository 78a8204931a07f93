import ArgumentParser
import Configuration
import Foundation
import Logging
import LossPipeline

/// `--config` and `--log-level`, shared by the long-running commands.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "A YAML settings file (Config/lossd.yaml documents every key).",
            discussion:
                "Flags win over LOSSD_* environment variables, which win over the file, which wins over the defaults."),
        completion: .file(extensions: ["yaml", "yml"]))
    var config: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical (default info).")
    var logLevel: String?

    /// Flags given, by settings key.
    var flagValues: [String: ConfigContent] {
        var values: [String: ConfigContent] = [:]
        if let logLevel { values["log.level"] = .string(logLevel) }
        return values
    }

    /// Loads the settings from every source, or exits with status 64 naming the bad key.
    func loadSettings(flags: [String: ConfigContent]) async throws -> SettingsReader {
        do {
            return try await SettingsReader.load(
                flags: flags.merging(flagValues) { first, _ in first }, configFile: config)
        } catch {
            throw ValidationError("\(error)")
        }
    }
}

/// Logging to standard error at the configured level.
enum LogSetup {
    /// Bootstraps swift-log once and returns the process's logger.
    static func logger(label: String, settings: SettingsReader) throws -> Logger {
        let level: Logger.Level
        do {
            level = try settings.choice("log.level", default: Logger.Level.info)
        } catch {
            throw ValidationError("\(error)")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
