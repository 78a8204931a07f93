import ArgumentParser

/// The `lossd` command line: one subcommand per way of running the loss stage.
@main
struct Lossd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lossd",
        abstract: "Compute the SSD MultiBox loss for batches streamed over ZeroMQ or recorded to files.",
        discussion: """
            Trainers push batches of SSD predictions and ground truth (protocol v1, see \
            docs/PROTOCOL.md); lossd computes the loss with hard-negative mining on a pool of \
            worker threads and writes one JSON record per batch.

            Start with `lossd synth -o batches.lossrec` to make a recording of synthetic batches, \
            then `lossd replay batches.lossrec` to compute their losses.
            """,
        version: LossdVersion.current,
        subcommands: [
            DemoCommand.self, ServeCommand.self, SidecarCommand.self, AggregateCommand.self, ReplayCommand.self,
            SynthCommand.self, ReportCommand.self, BenchCommand.self, KeygenCommand.self,
        ]
    )

    /// Sets up the allocator for large receive buffers before anything allocates, then runs.
    static func main() async {
        ReceiveBufferMemory.configure()
        await main(nil)
    }
}

/// The version `lossd --version` prints.
enum LossdVersion {
    static let current = "0.1.0"
}
