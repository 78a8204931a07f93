public import LossPipeline
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
///
/// Every `_total` only goes up (a late arrival has its own counter and lowers only the gauge
/// `lossd_missing_batches`), so `rate()` and `increase()` read them correctly.
public enum PrometheusExposition {
    /// The `Content-Type` of the text format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The exposition of `snapshot`, with the handshake failures of the process's sockets
    /// (`lossd_handshake_failures_total{socket,reason}`, every reason of each socket present).
    public static func render(
        _ snapshot: AggregatorSnapshot,
        handshakeFailures: [(socket: String, counts: [HandshakeFailureReason: Int])] = []
    ) -> [UInt8] {
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
        for (socket, counts) in handshakeFailures {
            for (reason, count) in counts.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                counter(
                    "lossd_handshake_failures_total",
                    """
                    Connections whose ZMTP handshake failed, by socket and reason (mechanism, server_key, client_key, \
                    closed, protocol): peers that do not match the socket's CURVE settings, which deliver nothing.
                    """,
                    [("socket", socket), ("reason", reason.rawValue)], count)
            }
        }

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
            gauge(
                "lossd_diverging",
                """
                1 while the run is diverging: its loss above divergence_factor times its running minimum for \
                divergence_steps figures in a row, or a batch with NaN or infinite values; else 0.
                """,
                labels, split.divergence.diverging ? 1 : 0)
            counter(
                "lossd_divergence_episodes_total", "Times the run was marked diverging.", labels,
                split.divergence.episodes)
            steps(split, labels: labels, counter: counter, gauge: gauge)
            diagnostics(split, labels: labels, registry: registry, counter: counter, gauge: gauge)
        }

        for source in snapshot.sources {
            let labels = [("run", source.run), ("source", source.source)]
            counter(
                "lossd_lost_batches_total",
                """
                Seqs counted lost: never seen once more than reorder_window below the highest seen (every gap at \
                shutdown, or when a stream retires). Late arrivals are counted apart and never lower it.
                """,
                labels, source.lostTotal)
            gauge(
                "lossd_missing_batches",
                "Seqs counted lost that have not arrived since: lost_batches_total minus late_batches_total.", labels,
                Double(source.lost))
            gauge(
                "lossd_streams", "Streams of the source tracked now (one per sending process).", labels,
                Double(source.streams))
            counter(
                "lossd_retired_streams_total",
                "Streams retired: idle past stream_idle, or to make room at max_streams.",
                labels, source.retiredStreams)
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

    /// The step figures of one (run, split), when its records carry ranks.
    private static func steps(
        _ split: SplitSnapshot, labels: [(String, String)],
        counter: (String, String, [(String, String)], Int) -> Void,
        gauge: (String, String, [(String, String)], Double?) -> Void
    ) {
        let counts = split.stepCounts
        guard counts != StepCounts() || split.lastCompleteStep != nil else { return }
        counter("lossd_steps_complete_total", "Steps closed with a record of every rank.", labels, counts.complete)
        counter(
            "lossd_steps_partial_total", "Steps closed with ranks missing (timeout, or too many open steps).", labels,
            counts.partial)
        counter(
            "lossd_step_resumes_total", "Resumes from a checkpoint: a rank's new stream at a step it had recorded.",
            labels, counts.resumes)
        counter(
            "lossd_step_records_replaced_total",
            "Rank records of a step replaced by a later record of the rank, or withdrawn by a resume.", labels,
            counts.replaced)
        counter(
            "lossd_step_records_dropped_total",
            "Records not put into a step: older than every kept step, kept out by resume=keep, or too many ranks.",
            labels, counts.dropped)
        gauge("lossd_open_steps", "Steps waiting for ranks.", labels, Double(counts.open))
        guard let last = split.lastCompleteStep else { return }
        gauge(
            "lossd_step_complete", "The number of the latest complete step (the step the step gauges describe).",
            labels, Double(last.step))
        for (figure, values, help) in [
            (
                "pooled", last.pooled,
                "The latest complete step's loss over all its ranks' batches together, by component."
            ),
            (
                "mean", last.mean,
                "The latest complete step's batch-size-weighted mean of the ranks' losses, by component."
            ),
            ("ema", last.ema, "The EMA of the pooled loss over complete steps, at the latest one, by component."),
        ] {
            for (component, value) in values.named {
                gauge("lossd_step_" + figure, help, labels + [("component", component)], value)
            }
        }
    }

    /// The per-batch diagnostics of one (run, split), when its records carry them, and the
    /// non-finite input values of its error records by tensor and kind.
    private static func diagnostics(
        _ split: SplitSnapshot, labels: [(String, String)], registry: PrometheusCollectorRegistry,
        counter: (String, String, [(String, String)], Int) -> Void,
        gauge: (String, String, [(String, String)], Double?) -> Void
    ) {
        for value in split.nonfiniteValues {
            counter(
                "lossd_nonfinite_values_total",
                """
                NaN or infinite input values of rejected batches, by tensor and kind (class_score, gt_class, \
                gt_offset, pred_offset, anchor; unknown from sidecars that count per tensor only).
                """,
                labels + [("tensor", value.tensor), ("kind", value.kind)], value.count)
        }
        let diagnostics = split.diagnostics
        guard diagnostics.batches > 0 || diagnostics.droppedClasses > 0 else { return }
        counter(
            "lossd_diagnosed_batches_total", "Loss records that carried per-batch diagnostics.", labels,
            diagnostics.batches)
        counter(
            "lossd_images_without_positives_total",
            "Images whose ground truth matched no anchor (no positives), over the batches with diagnostics.", labels,
            diagnostics.imagesWithoutPositives)
        gauge(
            "lossd_images_without_positives_window", "Images without positives in the latest window batches.",
            labels, Double(diagnostics.windowImagesWithoutPositives))
        gauge(
            "lossd_max_positive_share_window",
            "The largest share of one image's anchors that are positive (n_pos / N), over the latest window batches.",
            labels, diagnostics.windowMaxPositiveShare)
        gauge(
            "lossd_max_positive_share_last",
            "The latest batch's largest share of one image's anchors that are positive (n_pos / N).",
            labels, diagnostics.lastMaxPositiveShare)
        counter(
            "lossd_dropped_class_figures_total",
            "Per-class figures not kept: a class index outside 1..C-1, or more classes than the aggregator keeps.",
            labels, diagnostics.droppedClasses)
        for figures in diagnostics.classes {
            let classLabels = labels + [("class", String(figures.classIndex))]
            for (statistic, value) in figures.named {
                gauge("lossd_class_loss_" + statistic, Help.classStatistic(statistic), classLabels, value)
            }
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    metricName: "lossd_class_positives_total", unitName: "",
                    helpText: "Positive anchors of the class (fractional with soft labels)."),
                labels: classLabels
            ).increment(by: figures.positives)
            counter(
                "lossd_class_batches_total", "Batches in which the class had positive anchors.", classLabels,
                figures.batches)
            gauge(
                "lossd_class_positives_window", "Positive anchors of the class in the latest window batches.",
                classLabels, figures.windowPositives)
        }
    }

    private enum Help {
        static func classStatistic(_ name: String) -> String {
            switch name {
            case "mean": "Classification loss per positive anchor of the class since start (sum of loss / positives)."
            case "ema":
                "Debiased EMA of the classification loss per positive anchor, one step per batch with the class."
            case "window": "Classification loss per positive anchor of the class over the latest window batches."
            default: "The latest batch's classification loss per positive anchor of the class."
            }
        }

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
