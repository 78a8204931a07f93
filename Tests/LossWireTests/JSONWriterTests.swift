import Testing

@testable import LossWire
