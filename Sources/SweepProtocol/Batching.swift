public import TrainingCore

/// Packs task, result and failure messages into as few frames as the frame limit allows
/// (PROTOCOL.md, "Batches"): one frame per credit grant or per drained result queue instead
/// of one per message. A single message goes out as a plain frame.
public struct FrameBatcher: Sendable {
    private var done: [[UInt8]] = []
    private var current = WireWriter()
    private var entries = 0
    /// Where the last entry's kind byte is, and its kind (a single-entry frame is sent as a plain frame).
    private var lastEntryStart = 0
    private var lastKind = Message.Kind.task

    public init() { start() }

    public var isEmpty: Bool { done.isEmpty && entries == 0 }

    private mutating func start() {
        current = WireWriter(prefix: Message.header(.batch))
        current.u32(0)
        entries = 0
    }

    /// Appends an entry written by `body`; moves it to a new frame when the current one would
    /// exceed `maxFrameBytes`.
    private mutating func add(_ kind: Message.Kind, _ body: (inout WireWriter) throws(ProtocolError) -> Void) throws(ProtocolError) {
        let mark = current.count
        current.u8(kind.rawValue)
        current.u32(0)
        try body(&current)
        let length = current.count - mark - 5
        current.patchU32(at: mark + 1, UInt32(length))
        guard current.count > maxFrameBytes else {
            lastEntryStart = mark
            lastKind = kind
            entries += 1
            return
        }
        let entry = Array(current.bytes[mark...])
        current.truncate(to: mark)
        guard entries > 0, Message.headerBytes + 4 + entry.count <= maxFrameBytes else {
            throw .tooLarge(bytes: Message.headerBytes + entry.count - 5)
        }
        closeFrame()
        lastEntryStart = current.count
        lastKind = kind
        current.append(entry)
        entries = 1
    }

    /// A task, a result or a failure.
    public mutating func add(_ message: Message) throws(ProtocolError) {
        guard message.kind.batchable else { throw .unencodable("\(message.kind) messages are not batched") }
        try add(message.kind) { w throws(ProtocolError) in try message.writeBody(to: &w) }
    }

    /// A frame of one task, result or failure, as `Message.encoded()` made it.
    public mutating func add(frame: [UInt8]) throws(ProtocolError) {
        guard frame.count >= Message.headerBytes, let kind = Message.Kind(rawValue: frame[5]), kind.batchable else {
            throw .unencodable("not a frame of a task, a result or a failure")
        }
        try add(kind) { $0.append(frame[Message.headerBytes...]) }
    }

    /// A task whose spec, all but the seeds, was encoded once for its cell
    /// (`WireSpec.encodedWithoutSeeds`).
    public mutating func addTask(sweep: String, taskID: Int, attempt: Int, specWithoutSeeds: [UInt8],
                                 seeds: RunSeeds) throws(ProtocolError) {
        try add(.task) { w in
            w.string(sweep)
            w.int(taskID)
            w.int(attempt)
            w.append(specWithoutSeeds)
            w.decimal(seeds.problem)
            w.decimal(seeds.training)
        }
    }

    private mutating func closeFrame() {
        guard entries > 0 else { return }
        if entries == 1 {
            // A plain frame: the entry's kind in the header, its body after.
            done.append(Message.header(lastKind) + current.bytes[(lastEntryStart + 5)...])
        } else {
            current.patchU32(at: Message.headerBytes, UInt32(entries))
            done.append(current.bytes)
        }
        start()
    }

    /// The frames, in order; the batcher is empty after.
    public mutating func frames() -> [[UInt8]] {
        closeFrame()
        defer { done = [] }
        return done
    }
}

extension WireSpec {
    /// The spec's body without its seeds: what the tasks of one cell share.
    public var encodedWithoutSeeds: [UInt8] {
        var w = WireWriter(capacity: 320)
        writeWithoutSeeds(to: &w)
        return w.bytes
    }
}
