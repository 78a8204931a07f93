import CZeroMQ

extension Socket {
    /// Publishes this socket's events (`zmq_socket_monitor`) to a PAIR socket that libzmq binds at
    /// `endpoint` (an `inproc://` address): connect a PAIR of the same context there to read them.
    ///
    /// Call it on the thread that owns the socket, before binding or connecting, so that no
    /// connection is missed. ``HandshakeMonitor`` is the reader lossd uses.
    ///
    /// - Parameter events: The `ZMQ_EVENT_*` bits to publish.
    public func startMonitor(at endpoint: String, events: Int32) throws(ZeroMQError) {
        guard endpoint.hasPrefix("inproc://") else {
            throw .invalidArgument("a socket monitor publishes on an inproc:// endpoint, not \(endpoint)")
        }
        if zmq_socket_monitor(try open(), endpoint, events) != 0 {
            throw ZeroMQError.last("monitor a \(type) socket at \(endpoint)")
        }
    }

    /// Stops publishing events: libzmq sends `ZMQ_EVENT_MONITOR_STOPPED` and closes its side.
    /// Closing the socket does the same.
    public func stopMonitor() throws(ZeroMQError) {
        if zmq_socket_monitor(try open(), nil, 0) != 0 {
            throw ZeroMQError.last("stop monitoring a \(type) socket")
        }
    }
}
