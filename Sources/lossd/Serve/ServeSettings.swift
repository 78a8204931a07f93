import LossAggregator
import LossPipeline
import ZeroMQ

/// The settings of `lossd serve`: the sidecar's and the aggregator's, plus `serve.records_input`.
enum ServeSettings {
    /// Reads both halves. The aggregator's inputs are only `serve.records_input` (the inproc link
    /// from the sidecar is added by ``LossServer``), with its own CURVE settings
    /// (`serve.records_input_key_file`, `serve.records_input_allowed_clients`, or `curve.*`);
    /// `aggregate.input` and its settings belong to `lossd aggregate`.
    static func read(_ settings: SettingsReader) throws(SettingsError) -> (SidecarSettings, AggregatorSettings) {
        let sidecar = try SidecarSettings(reading: settings)
        var aggregator = try AggregatorSettings(reading: settings)
        aggregator.input = []
        aggregator.inputName = "serve.records_input"
        aggregator.inputSecurity = try SocketSecurity(server: "serve.records_input", reading: settings)
        if let text = try settings.string("serve.records_input", default: nil), !text.isEmpty {
            do {
                aggregator.input = try Endpoint.parseList(text, defaultRole: .bind)
            } catch {
                throw .invalid(
                    key: "serve.records_input", value: text,
                    reason: "expected an endpoint such as @tcp://127.0.0.1:5556 (\(error))")
            }
        }
        return (sidecar, aggregator)
    }
}
