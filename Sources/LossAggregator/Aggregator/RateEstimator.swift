import Foundation

/// Events per second over roughly the last ``timeConstant`` seconds, as an exponentially decayed
/// count: each event adds 1, and the count decays by `e^(−Δt/τ)`.
///
/// The rate is the decayed count divided by the decayed length of time observed,
/// `τ·(1 − e^(−span/τ))`, so it is unbiased from the first seconds on and drops towards zero
/// when events stop. Times are seconds on any clock that does not go backwards much.
struct RateEstimator: Sendable, Hashable {
    /// τ, in seconds.
    let timeConstant: Double
    private var decayedCount = 0.0
    private var lastTime: Double?
    private var firstTime: Double?

    /// An estimator averaging over about `timeConstant` seconds.
    init(timeConstant: Double = 10) {
        self.timeConstant = timeConstant
    }

    /// Counts one event at `time`.
    mutating func count(at time: Double) {
        if let lastTime {
            if time > lastTime {
                decayedCount *= exp(-(time - lastTime) / timeConstant)
                self.lastTime = time
            }
        } else {
            lastTime = time
            firstTime = time
        }
        decayedCount += 1
    }

    /// Events per second as seen at `time`; 0 before the first event.
    func rate(at time: Double) -> Double {
        guard let lastTime, let firstTime else { return 0 }
        let decayed = decayedCount * exp(-max(0, time - lastTime) / timeConstant)
        let span = max(1, time - firstTime)
        return decayed / (timeConstant * (1 - exp(-span / timeConstant)))
    }
}
