extension WireError {
    /// Writes the error record of the rejected batch (`kind = "error"`) as one JSON object, keys in
    /// protocol order; absent labels are omitted.
    public func write(to json: inout JSONWriter) {
        json.beginObject()
        json.key("v")
        json.int(1)
        json.key("kind")
        json.string("error")
        json.key("code")
        json.string(code.rawValue)
        json.key("error")
        json.string(message)
        for (name, value) in [("run", labels.run), ("split", labels.split), ("source", labels.source)] {
            if let value {
                json.key(name)
                json.string(value)
            }
        }
        json.optionalInt("epoch", labels.epoch)
        json.optionalInt("step", labels.step)
        json.optionalInt("seq", labels.seq)
        json.placement(stream: labels.stream, rank: labels.rank, worldSize: labels.worldSize)
        if let details {
            json.key("details")
            json.value(.object(details))
        }
        json.endObject()
    }

    /// The error record as one line of JSON, without the trailing newline.
    public func jsonLine() -> [UInt8] {
        var json = JSONWriter(capacity: 256 + message.utf8.count)
        write(to: &json)
        return json.bytes
    }
}
