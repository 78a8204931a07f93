import ArgumentParser
import LossPipeline
import ZeroMQ

/// `lossd keygen`: writes a CURVE key pair for encrypted, authenticated sockets.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen",
        abstract: "Write a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub (to give to peers).",
        discussion: """
            An input that requires CURVE (a sidecar's or an aggregator's) uses its .key with \
            --input-key-file and lists the .pub files of the clients it lets in with \
            --input-allowed-clients; a client (a trainer, or a sidecar's output with \
            --output-key-file) uses its own .key and the server's .pub (--output-server-key). \
            --key-file and --allowed-clients say the same for every socket at once. \
            docs/SECURITY.md shows a deployment across hosts.

            Examples:
              lossd keygen sidecar
              lossd keygen keys/trainer-01
            """
    )

    @Argument(help: "The files' name without extension (NAME.key and NAME.pub).")
    var name: String

    @Flag(help: "Replace existing key files.")
    var force = false

    func run() throws {
        guard ZeroMQ.hasCapability("curve") else {
            throw ValidationError("this libzmq was built without CURVE; install Debian's libzmq5 (which has it).")
        }
        let pair = try CurveKeyPair.generate()
        do {
            try KeyFile.write(pair, name: name, overwrite: force)
        } catch {
            throw ValidationError("\(error)")
        }
        print("wrote \(name).key (secret) and \(name).pub")
        print("public key: \(pair.publicKey)")
    }
}
