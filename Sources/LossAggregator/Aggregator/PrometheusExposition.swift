import LossWire
import Prometheus

/// Renders an ``AggregatorSnapshot`` in the Prometheus text exposition format (version 0.0.4)
/// with swift-prometheus, which escapes label values.
///
/// Each scrape builds a fresh registry from one snapshot, so every series of a scrape describes the
/// same moment. The SPEC §6 families: `lossd_batches_total`, `lossd_samples_total`,
/// `lossd_loss_{mean,ema,window,last,min,max,epoch_mean}` (labels run, split, component),
/// `lossd_errors_total{run,split,code}`, `lossd_lost_batches_total{run,source}`,
/// `lossd_duplicate_batches_total{run,source}`; docs/OPERATIONS.md lists the others. A statistic
/// without a finite value (no batch yet, an empty epoch) has no sample rather than a NaN one.
public enum PrometheusExposition {
    /// The `Content-Type` of the text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The exposition of `snapshot`.
    public static func render(_ snapshot: AggregatorSnapshot) -> [UInt8] {
        let registry = PrometheusCollectorRegistry()
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Int) {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels
            ).increment(by: Int64(value))
        }
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double?) {
            guard let value, value.isFinite else { return }
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels
            ).set(value)
        }

        counter(
            "lossd_records_total", "Messages read from the input: valid, invalid, duplicate or overflow.", [],
            snapshot.records)
        counter(
            "lossd_invalid_records_total",
            "Messages that were not a valid v1 record (not JSON, another version, a missing field).", [],
            snapshot.invalid)
        counter(
            "lossd_overflow_records_total",
            "Records not stored because max_keys (run, split) or (run, source) pairs were reached.", [],
            snapshot.overflow)
        gauge(
            "lossd_records_per_second", "Messages read per second over about the last 10 s.", [],
            snapshot.recordsPerSecond)
        gauge(
            "lossd_start_time_seconds",
            "When the aggregation started (kept across restarts), in seconds since the Unix epoch.", [],
            snapshot.startTime)
        gauge(
            "lossd_max_keys", "The most (run, split) pairs, and (run, source) pairs, kept.", [],
            Double(snapshot.parameters.maxKeys))
        gauge("lossd_splits", "(run, split) pairs kept.", [], Double(snapshot.splits.count))
        gauge("lossd_sources", "(run, source) pairs whose seqs are tracked.", [], Double(snapshot.sources.count))
        counter(
            Help.errors.name, Help.errors.help, [("run", ""), ("split", ""), ("code", "overflow")], snapshot.overflow)

        for split in snapshot.splits {
            let labels = [("run", split.run), ("split", split.split)]
            counter("lossd_batches_total", "Loss records aggregated.", labels, split.batches)
            counter(
                "lossd_samples_total", "Images in the aggregated batches (the sum of batch sizes).", labels,
                split.samples)
            counter(
                "lossd_nonfinite_batches_total",
                "Batches whose loss, classification or localization was NaN or infinite.", labels, split.nonfinite)
            counter(
                "lossd_stale_epoch_batches_total",
                "Batches of an earlier epoch that arrived after a later epoch had started.", labels,
                split.staleEpochBatches)
            gauge(
                "lossd_batches_per_second", "Loss records per second over about the last 10 s.", labels,
                split.batchesPerSecond)
            gauge("lossd_positives_per_batch", "Mean positives (n_pos) per batch.", labels, split.positivesPerBatch)
            gauge("lossd_negatives_per_batch", "Mean mined negatives per batch.", labels, split.negativesPerBatch)
            gauge("lossd_epoch", "The current epoch.", labels, split.epoch.map(Double.init))
            gauge("lossd_step", "The latest step.", labels, split.step.map(Double.init))
            gauge(
                "lossd_last_record_timestamp_seconds",
                "When the latest record arrived, in seconds since the Unix epoch.", labels, split.lastRecordTime)
            let counts = Dictionary(split.errors.map { ($0.code, $0.count) }, uniquingKeysWith: +)
            for code in ErrorCode.allCases {
                counter(Help.errors.name, Help.errors.help, labels + [("code", code.rawValue)], counts[code] ?? 0)
            }
            for (component, statistics) in split.components {
                let componentLabels = labels + [("component", component)]
                for (statistic, value) in statistics.named {
                    gauge("lossd_loss_" + statistic, Help.statistic(statistic), componentLabels, value)
                }
            }
        }

        for source in snapshot.sources {
            let labels = [("run", source.run), ("source", source.source)]
            counter(
                "lossd_lost_batches_total",
                """
                Seqs never seen once more than reorder_window below the highest seen (every gap at shutdown); a \
                late arrival takes one off.
                """,
                labels, source.lost)
            counter(
                "lossd_duplicate_batches_total",
                "Records whose (run, source, seq) had been seen before; not aggregated again.", labels,
                source.duplicates)
            counter(
                "lossd_late_batches_total", "Records that arrived after their seq had been counted lost; aggregated.",
                labels, source.late)
            gauge(
                "lossd_pending_batches", "Seqs within the reorder window not seen yet.", labels, Double(source.pending))
            gauge("lossd_highest_seq", "The highest seq seen.", labels, Double(source.highestSeq))
        }
        return registry.emitToBuffer()
    }

    private enum Help {
        static let errors = (
            name: "lossd_errors_total",
            help: "Error records by code; code=overflow counts records not stored because max_keys was reached."
        )

        static func statistic(_ name: String) -> String {
            switch name {
            case "mean": "Batch-size-weighted mean since start, by component (loss, classification, localization)."
            case "ema": "Debiased exponential moving average, one step per batch, by component."
            case "window": "Batch-size-weighted mean of the latest window batches, by component."
            case "last": "The latest batch's value, by component."
            case "min": "The smallest value seen, by component."
            case "max": "The largest value seen, by component."
            case "epoch_mean": "Batch-size-weighted mean of the current epoch, by component."
            default: "Batch-size-weighted mean of the epoch before the current one, by component."
            }
        }
    }
}
