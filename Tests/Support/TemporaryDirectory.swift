public import Foundation

/// A new folder under the system's temporary folder, removed with everything in it when the last
/// reference goes away (keep it in a local for the length of a test).
public final class TemporaryDirectory {
    /// The folder.
    public let url: URL

    /// Creates the folder, named `lossd-tests-` and a UUID.
    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("lossd-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// The path of `name` inside the folder.
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}
