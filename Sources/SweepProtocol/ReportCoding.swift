import TrainingCore

/// `result.report` on the wire (PROTOCOL.md, "The report"): a u8 count, then that many fields,
/// each a u8 tag, a u8 type and the value, in increasing tag order. The tags and types are those
/// of `RunReport.fields`; a field a report leaves out is simply not there. A receiver skips a
/// tag it does not know (its type says how long it is), so a worker may send a metric the
/// coordinator has not learnt yet, and a new metric needs no protocol version.
enum ReportWireType: UInt8 {
    case double = 1
    case int = 2
    case bool = 3
    case doubles = 4
    /// A u32 byte length, then the bytes (the trajectory).
    case bytes = 5
    /// A `str`: one of the field's allowed names.
    case string = 6
}

extension ReportField {
    /// The field's type on the wire; nil for derived fields (never sent).
    var wireType: ReportWireType? {
        switch value {
        case .double: .double
        case .int: .int
        case .bool: .bool
        case .perNoise: .doubles
        case .name: .string
        case .trajectory: .bytes
        case .derived: nil
        }
    }
}

extension RunReport {
    /// The carried fields in tag order: the order they are written in.
    static let wireFields: [ReportField] = fields.filter(\.value.isCarried).sorted { $0.tag < $1.tag }

    /// The carried fields by tag, 0...255 (an array: a decoder looks one up per field).
    static let fieldAtTag: [ReportField?] = (0...255).map { fieldsByTag[UInt8($0)] }

    /// The tags every report must carry, increasing.
    static let requiredTags: [UInt8] = wireFields.filter { !$0.isOptional }.map(\.tag)

    /// `report.<name>` of the field at each tag, for error messages (made once, not per value).
    static let wireNames: [String] = fieldAtTag.map { $0.map { "report." + $0.name } ?? "" }

    /// How the decoder stores the field at each tag: its setter alone (a decoder reads tens of
    /// thousands of reports a second; reading `field.value` copies both closures of the field
    /// each time).
    enum TagSetter: Sendable {
        case double(@Sendable (inout RunReport, Double?) -> Void)
        case int(@Sendable (inout RunReport, Int?) -> Void)
        case bool(@Sendable (inout RunReport, Bool?) -> Void)
        case perNoise(@Sendable (inout RunReport, [Double]?) -> Void)
        case name(@Sendable (inout RunReport, String?) -> Void, allowed: [String])
        case trajectory
    }

    /// Whether a field has the tag (a receiver skips the values of the others).
    static let isKnownTag: [Bool] = fieldAtTag.map { $0 != nil }

    /// The wire type of the field at each tag; nil for no field, or one never sent (derived).
    static let wireTypeAtTag: [ReportWireType?] = fieldAtTag.map { $0?.wireType }

    /// The setter of the field at each tag; nil for no field, or one never sent. Apart from the
    /// types: reading an entry copies it, and a tuple of both was copied and destroyed twice.
    static let setterAtTag: [TagSetter?] = fieldAtTag.map { field in
        guard let field else { return nil }
        switch field.value {
        case .double(_, let set): return .double(set)
        case .int(_, let set): return .int(set)
        case .bool(_, let set): return .bool(set)
        case .perNoise(_, let set): return .perNoise(set)
        case .name(_, let set, let allowed): return .name(set, allowed: allowed)
        case .trajectory: return .trajectory
        case .derived: return nil
        }
    }

    /// The first required tag below `tag` from `requiredTags[next...]` that a report skipped,
    /// moving `next` past `tag` (tags arrive in increasing order).
    private static func skippedRequired(before tag: Int, next: inout Int) -> UInt8? {
        while next < requiredTags.count, Int(requiredTags[next]) <= tag {
            if Int(requiredTags[next]) < tag { return requiredTags[next] }
            next += 1
        }
        return nil
    }

    func write(to w: inout WireWriter) {
        let countAt = w.count
        w.u8(0)
        var count: UInt8 = 0
        for field in Self.wireFields where isPresent(field) {
            guard let type = field.wireType else { continue }
            w.u8(field.tag)
            w.u8(type.rawValue)
            switch field.value {
            case .double(let get, _): w.double(get(self)!)
            case .int(let get, _): w.int(get(self)!)
            case .bool(let get, _): w.bool(get(self)!)
            case .perNoise(let get, _): w.doubles(get(self)!)
            case .name(let get, _, _): w.string(get(self)!)
            case .trajectory:
                let lengthAt = w.count
                w.u32(0)
                w.u32(UInt32(truncatingIfNeeded: trajectory.count))
                for point in trajectory { point.write(to: &w) }
                w.patchU32(at: lengthAt, UInt32(truncatingIfNeeded: w.count - lengthAt - 4))
            case .derived: break
            }
            count += 1
        }
        w.patch(at: countAt, count)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        var report = RunReport.blank
        let count = Int(try r.u8("report"))
        var nextRequired = 0  // into `requiredTags`
        var previous: Int = -1
        for _ in 0..<count {
            let tag = try r.u8("report.tag")
            let rawType = try r.u8("report.type")
            guard Int(tag) > previous else {
                throw r.fail("report", "tag \(tag) after tag \(previous): tags must increase")
            }
            previous = Int(tag)
            if let missing = Self.skippedRequired(before: Int(tag), next: &nextRequired) {
                throw r.fail(Self.wireNames[Int(missing)], "missing (every report carries it)")
            }
            guard let type = ReportWireType(rawValue: rawType) else {
                throw r.fail("report", "tag \(tag) has unknown type \(rawType)")
            }
            guard Self.isKnownTag[Int(tag)] else {
                try r.skipValue(of: type, "report.tag\(tag)")
                continue
            }
            // The field's name, for an error only (a copy of it per value cost a retain).
            var name: String { Self.wireNames[Int(tag)] }
            let expected = Self.wireTypeAtTag[Int(tag)]
            guard expected == type, let setter = Self.setterAtTag[Int(tag)] else {
                throw r.fail(name, "type \(rawType), expected \(expected?.rawValue ?? 0)")
            }
            switch setter {
            case .double(let set): set(&report, try r.double(name))
            case .int(let set): set(&report, try r.int(name))
            case .bool(let set): set(&report, try r.bool(name))
            case .perNoise(let set): set(&report, try r.doubles(name))
            case .name(let set, let allowed):
                let value = try r.string(name)
                guard allowed.contains(value) else { throw r.fail(name, "unknown value '\(value.prefix(40))'") }
                set(&report, value)
            case .trajectory:
                let length = Int(try r.u32(name))
                guard length <= r.remaining else { throw r.fail(name, "\(length) byte(s), \(r.remaining) left") }
                let end = r.offset + length
                // A point takes at least 8 numbers and 3 presence bytes.
                let points = try r.count(name, minimum: 67)
                report.trajectory.reserveCapacity(points)
                for _ in 0..<points { report.trajectory.append(try TrajectoryPoint(from: &r)) }
                guard r.offset == end else { throw r.fail(name, "length \(length) does not match its points") }
            }
        }
        if let missing = Self.skippedRequired(before: 256, next: &nextRequired) {
            throw r.fail(Self.wireNames[Int(missing)], "missing (every report carries it)")
        }
        self = report
    }
}

extension TrajectoryPoint {
    func write(to w: inout WireWriter) {
        w.int(step)
        w.double(loss)
        w.double(trainResidual)
        w.double(reconstructionError)
        w.double(offSubspaceError)
        w.double(targetDistance)
        w.double(gradientNorm)
        w.double(balancedness)
        w.optionalDouble(flowTime)
        w.optional(singularValues.isEmpty ? nil : singularValues) { $0.doubles($1) }
        w.optionalDouble(lossGap)
    }

    init(from r: inout WireReader) throws(ProtocolError) {
        let step = try r.int("trajectory.step")
        let loss = try r.double("trajectory.loss")
        let trainResidual = try r.double("trajectory.trainResidual")
        let reconstructionError = try r.double("trajectory.reconstructionError")
        let offSubspaceError = try r.double("trajectory.offSubspaceError")
        let targetDistance = try r.double("trajectory.targetDistance")
        let gradientNorm = try r.double("trajectory.gradientNorm")
        let balancedness = try r.double("trajectory.balancedness")
        let flowTime = try r.optionalDouble("trajectory.flowTime")
        let singularValues = try r.present("trajectory.singularValues") ? try r.doubles("trajectory.singularValues") : []
        self.init(
            step: step, loss: loss, trainResidual: trainResidual, reconstructionError: reconstructionError,
            offSubspaceError: offSubspaceError, targetDistance: targetDistance, gradientNorm: gradientNorm,
            balancedness: balancedness, flowTime: flowTime, singularValues: singularValues,
            lossGap: try r.optionalDouble("trajectory.lossGap"))
    }
}

extension WireReader {
    /// Steps over one value of `type` (a field this build does not know).
    mutating func skipValue(of type: ReportWireType, _ field: String) throws(ProtocolError) {
        switch type {
        case .double, .int: _ = try u64(field)
        case .bool: _ = try bool(field)
        case .doubles: _ = try doubles(field)
        case .string: _ = try string(field)
        case .bytes:
            let length = Int(try u32(field))
            guard length <= remaining else { throw fail(field, "\(length) byte(s), \(remaining) left") }
            skip(length)
        }
    }
}
