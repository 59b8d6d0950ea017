import Foundation
import Testing

/// The containers of cluster/kubernetes/coordinator.yaml and workers.yaml run as local
/// processes the way a kubelet starts them (cluster/kubernetes/run-locally.py): their
/// commands, environment, the Secret's files with the modes the pod gets, the claim. No
/// cluster is involved: this checks the commands and the key handling, not the scheduling.
struct KubernetesManifestTests {
    @Test("the manifests' coordinator and two worker pods, run locally, end with status 0 and the local run's table",
          .timeLimit(.minutes(10)))
    func manifestsRunLocally() async throws {
        let directory = try makeTemporaryDirectory()
        let config = directory.appendingPathComponent("sweep.yaml").path
        try slowSweepYAML.write(toFile: config, atomically: true, encoding: .utf8)
        let (status, output) = try runLogged("/usr/bin/env", [
            "python3", repositoryRoot.appendingPathComponent("cluster/kubernetes/run-locally.py").path,
            DLSweepProcess.binary.path, config, directory.appendingPathComponent("pods").path,
        ], in: directory, log: "run-locally.log")
        #expect(status == 0, "run-locally.py failed:\n\(output.suffix(6000))")
        // Its last line: the results folder on the claim.
        let folder = try #require(output.split(separator: "\n").last.map { URL(fileURLWithPath: String($0)) })
        try await expectLocalRunTables([folder])
    }
}
