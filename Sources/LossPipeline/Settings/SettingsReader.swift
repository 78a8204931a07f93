public import Configuration
public import Foundation
import SystemPackage

/// Reads lossd's settings from, strongest first: flags, `LOSSD_*` environment variables, a YAML
/// file, and built-in defaults.
///
/// Keys are dotted paths as in `Config/lossd.yaml` (`sidecar.workers`, `loss.alpha`). The
/// environment variable of a key is `LOSSD_` plus the key in capitals with `_` for `.`
/// (`LOSSD_SIDECAR_WORKERS`); the flag is the key's last part (`--workers`). Every getter checks
/// the value's type and range and throws ``SettingsError`` naming the key, so a bad value stops
/// the program at start rather than surprising it later.
public struct SettingsReader: Sendable {
    private let reader: ConfigReader

    /// Builds the provider hierarchy.
    ///
    /// - Parameters:
    ///   - flags: Values given on the command line, by key; absent flags are simply not in it.
    ///   - configFile: A YAML file to read, or nil.
    ///   - environment: The environment to read `LOSSD_*` variables from (the process's by default).
    public static func load(
        flags: [String: ConfigContent],
        configFile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws(SettingsError) -> SettingsReader {
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: Self.absolute(flags)),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["lossd"]),
        ]
        if let configFile {
            guard FileManager.default.isReadableFile(atPath: configFile) else {
                throw .unreadableFile(path: configFile, reason: "no such file, or it cannot be read")
            }
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(configFile)))
            } catch {
                throw .unreadableFile(path: configFile, reason: "\(error)")
            }
        }
        return SettingsReader(reader: ConfigReader(providers: providers))
    }

    private static func absolute(_ values: [String: ConfigContent]) -> [AbsoluteConfigKey: ConfigValue] {
        var result: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, content) in values {
            result[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = ConfigValue(
                content, isSecret: false)
        }
        return result
    }

    private func key(_ name: String) -> ConfigKey {
        ConfigKey(name.split(separator: ".").map(String.init))
    }

    /// The text a key holds, for error messages (nil when absent or not text).
    private func raw(_ name: String) -> String {
        reader.string(forKey: key(name)).map { $0 } ?? reader.int(forKey: key(name)).map(String.init)
            ?? reader.double(forKey: key(name)).map { "\($0)" } ?? reader.bool(forKey: key(name)).map { "\($0)" } ?? "?"
    }

    /// True when some source sets `name`.
    private func isSet(_ name: String) -> Bool {
        reader.string(forKey: key(name)) != nil || reader.int(forKey: key(name)) != nil
            || reader.double(forKey: key(name)) != nil || reader.bool(forKey: key(name)) != nil
    }

    /// An integer setting within `range`.
    public func int(
        _ name: String, default defaultValue: Int, in range: ClosedRange<Int> = Int.min...Int.max
    ) throws(SettingsError) -> Int {
        guard isSet(name) else { return defaultValue }
        guard let value = reader.int(forKey: key(name)) else {
            throw .invalid(key: name, value: raw(name), reason: "expected a whole number")
        }
        guard range.contains(value) else {
            throw .invalid(
                key: name, value: "\(value)",
                reason:
                    "expected a number in "
                    + "\(range.lowerBound)…\(range.upperBound == Int.max ? "" : "\(range.upperBound)")"
            )
        }
        return value
    }

    /// A finite number setting within `range`.
    public func double(
        _ name: String, default defaultValue: Double,
        in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude
    ) throws(SettingsError) -> Double {
        guard isSet(name) else { return defaultValue }
        guard let value = reader.double(forKey: key(name)) ?? reader.int(forKey: key(name)).map(Double.init) else {
            throw .invalid(key: name, value: raw(name), reason: "expected a number")
        }
        guard value.isFinite, range.contains(value) else {
            throw .invalid(
                key: name, value: "\(value)",
                reason: "expected a finite number in \(range.lowerBound)…\(range.upperBound)")
        }
        return value
    }

    /// A true-or-false setting (`true`/`false` in YAML and flags; `true`, `false`, `1`, `0` in the environment).
    public func bool(_ name: String, default defaultValue: Bool) throws(SettingsError) -> Bool {
        guard isSet(name) else { return defaultValue }
        if let value = reader.bool(forKey: key(name)) { return value }
        switch reader.string(forKey: key(name))?.lowercased() {
        case "1", "yes", "on": return true
        case "0", "no", "off": return false
        default: throw .invalid(key: name, value: raw(name), reason: "expected true or false")
        }
    }

    /// A text setting; an empty string counts as absent when `emptyIsAbsent`.
    public func string(_ name: String, default defaultValue: String?) throws(SettingsError) -> String? {
        guard isSet(name) else { return defaultValue }
        guard let value = reader.string(forKey: key(name)) else {
            throw .invalid(key: name, value: raw(name), reason: "expected text")
        }
        return value
    }

    /// Whether no source sets `name`, or it is set to empty text (which means "not set").
    private func isUnsetOrEmpty(_ name: String) -> Bool {
        !isSet(name) || reader.string(forKey: key(name)) == ""
    }

    /// An integer setting within `range`, or nil when it is not set or set to empty text.
    public func optionalInt(
        _ name: String, in range: ClosedRange<Int> = Int.min...Int.max
    ) throws(SettingsError) -> Int? {
        isUnsetOrEmpty(name) ? nil : try int(name, default: 0, in: range)
    }

    /// A finite number setting within `range`, or nil when it is not set or set to empty text.
    public func optionalDouble(_ name: String, in range: ClosedRange<Double>) throws(SettingsError) -> Double? {
        isUnsetOrEmpty(name) ? nil : try double(name, default: 0, in: range)
    }

    /// A setting whose text is one of `Value`'s cases, or nil when it is not set or set to empty text.
    public func optionalChoice<Value: RawRepresentable & CaseIterable>(
        _ name: String, as type: Value.Type
    ) throws(SettingsError) -> Value? where Value.RawValue == String {
        guard !isUnsetOrEmpty(name), let text = try string(name, default: nil) else { return nil }
        guard let value = Value(rawValue: text) else {
            throw .invalid(
                key: name, value: text,
                reason: "expected one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }

    /// A setting whose text is one of `Value`'s cases.
    public func choice<Value: RawRepresentable & CaseIterable>(
        _ name: String, default defaultValue: Value
    ) throws(SettingsError) -> Value where Value.RawValue == String {
        guard let text = try string(name, default: nil) else { return defaultValue }
        guard let value = Value(rawValue: text) else {
            throw .invalid(
                key: name, value: text,
                reason: "expected one of \(Value.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return value
    }
}
