import Foundation
import SweepConfig
import SweepProtocol
import Testing

/// The task frames of every config in configs/, pinned to what the coordinator sent before the
/// spec became a typed tree: FNV-1a of every first-round task frame (the sampled trials with
/// their trajectory), in task order.
@Suite struct TaskFramePinTests {
    static let configsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("configs")

    static let pins: [(String, String)] = [
        ("diagonal.yaml", "8e51a74112837e13"),
        ("figure1.yaml", "243253136f57c240"),
        ("flow.yaml", "bbf9926d183f645e"),
        ("inertial.yaml", "49719f1b553488fc"),
        ("overhead.yaml", "9e0c3baa94f43e37"),
        ("phase-adaptive.yaml", "1f96be35b1f919d4"),
        ("phase.yaml", "210aced7ed4df69"),
        ("quick.yaml", "3f064208019f8729"),
    ]

    @Test("every task frame of every config in configs/ stays byte for byte", arguments: pins)
    func frames(_ pin: (String, String)) throws {
        let config = try SweepConfiguration.load(path: Self.configsDirectory.appendingPathComponent(pin.0).path)
        let plan = SweepPlan(config)
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for id in 0..<plan.taskCount {
            let task = plan.task(id)
            let spec = WireSpec(config.sampled(task.spec, trial: task.trial))
            // The decoded spec is the one the worker runs: it must give the same frame back.
            #expect(WireSpec(try spec.runSpec()) == spec)
            var frame = try Message.task(TaskAssignment(sweep: plan.fingerprint, taskID: id, attempt: 1, spec: spec)).encoded()
            // Versions 7 (the report) and 8 (sessions) left the task alone: a task's frame is
            // version 6's but for its version byte.
            #expect(frame[4] == protocolVersion)
            frame[4] = 6
            for byte in frame {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
        }
        #expect(String(hash, radix: 16) == pin.1)
    }
}
