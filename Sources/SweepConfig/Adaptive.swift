import Foundation

/// `adaptive:` (issue 14): run a sweep in rounds and spend trials where a cell's success rate
/// is still uncertain, optionally adding cells between neighbours whose rates differ.
///
/// Round 0 gives every cell `minTrials` trials. When a round is complete (every task has a
/// row), the next one is planned from the results of the completed rounds alone: a cell whose
/// 95% Wilson interval of the `success` measure is wider than `targetCIWidth` gets `round`
/// more trials (at most `maxTrials` in all), and `refine` adds midpoint cells. Every result is
/// a pure function of its task, so the rounds, and the final table, are the same whatever the
/// number of workers and the order in which results arrive.
public struct AdaptiveSettings: Sendable, Hashable, Codable {
    public var targetCIWidth: Double
    public var minTrials: Int
    public var maxTrials: Int
    public var round: Int
    public var refine: RefineSettings?

    public init(targetCIWidth: Double = 0.2, minTrials: Int = 4, maxTrials: Int = 64, round: Int = 4,
                refine: RefineSettings? = nil) {
        self.targetCIWidth = targetCIWidth
        self.minTrials = minTrials
        self.maxTrials = maxTrials
        self.round = round
        self.refine = refine
    }
}

/// `adaptive.refine`: between two neighbouring cells along a numeric axis (equal on every other
/// axis, adjacent values) whose rates differ by more than `threshold`, add the cell at the
/// midpoint, up to `levels` times (a new cell's level is one more than its neighbours' highest;
/// the grid's cells are level 0).
public struct RefineSettings: Sendable, Hashable, Codable {
    public var axes: [String]
    public var levels: Int
    public var threshold: Double
    /// Axes whose midpoints are geometric (`scale: {lambda: log}`); an axis not named here is
    /// geometric when all its grid values are positive and span at least a factor of 10.
    public var scales: [String: Scale]

    public enum Scale: String, Sendable, Hashable, Codable, CaseIterable { case linear, log }

    public init(axes: [String], levels: Int = 2, threshold: Double = 0.5, scales: [String: Scale] = [:]) {
        self.axes = axes
        self.levels = levels
        self.threshold = threshold
        self.scales = scales
    }

    /// Whether `axis`, with these grid values, takes geometric midpoints.
    public func isLogarithmic(_ axis: String, values: [Double]) -> Bool {
        if let scale = scales[axis] { return scale == .log }
        guard let low = values.min(), let high = values.max(), low > 0 else { return false }
        return high / low >= 10
    }
}

/// What one round after the first added: new cells (appended to the plan's cells in this
/// order) and extra trials per cell (task ids follow in this order). Recorded in the store,
/// so a restarted coordinator and `dlsweep table` replay the same plan.
public struct AdaptiveRound: Sendable, Hashable, Codable {
    public struct NewCell: Sendable, Hashable, Codable {
        public var settings: [AxisSetting]
        public var level: Int

        public init(settings: [AxisSetting], level: Int) {
            self.settings = settings
            self.level = level
        }

        /// Values typed by their keys: JSON writes the number 1.0 as `1`, which must read back
        /// as the number it was (its seed word is its bit pattern, not the integer 1).
        public init(from decoder: any Decoder) throws {
            enum Keys: String, CodingKey { case settings, level }
            let c = try decoder.container(keyedBy: Keys.self)
            level = try c.decode(Int.self, forKey: .level)
            settings = try c.decode([AxisSetting].self, forKey: .settings).map {
                AxisSetting($0.key, AxisDefinition.named($0.key)?.typed($0.value) ?? $0.value)
            }
        }
    }

    public struct Extension: Sendable, Hashable, Codable {
        public var cell: Int
        public var trials: Int

        public init(cell: Int, trials: Int) {
            self.cell = cell
            self.trials = trials
        }
    }

    /// 1 for the first round after the grid's.
    public var number: Int
    public var newCells: [NewCell]
    public var extensions: [Extension]

    public init(number: Int, newCells: [NewCell], extensions: [Extension]) {
        self.number = number
        self.newCells = newCells
        self.extensions = extensions
    }

    public var addedTasks: Int { extensions.reduce(0) { $0 + $1.trials } }
}

/// What a planner needs of a cell's results so far.
public struct CellTally: Sendable, Hashable {
    /// Runs with a report.
    public var runs: Int
    /// Of those, runs with the sweep's success outcome.
    public var successes: Int

    public init(runs: Int, successes: Int) {
        self.runs = runs
        self.successes = successes
    }

    public var rate: Double? { runs > 0 ? Double(successes) / Double(runs) : nil }
}

extension SweepPlan {
    /// The next round given the tallies of every cell (`tallies[cell]`, all rounds complete),
    /// or nil when the sweep is done. Deterministic: cells, pairs and axes in plan order.
    public func nextAdaptiveRound(tallies: [CellTally], intervalWidth: (CellTally) -> Double) -> AdaptiveRound? {
        guard let settings = configuration.adaptive else { return nil }
        precondition(tallies.count == cells.count, "one tally per cell")
        var newCells: [AdaptiveRound.NewCell] = []
        if let refine = settings.refine {
            newCells = refinements(refine, tallies: tallies)
        }
        var extensions: [AdaptiveRound.Extension] = []
        for cell in 0..<cells.count {
            let scheduled = trials(ofCell: cell)
            guard scheduled < settings.maxTrials, intervalWidth(tallies[cell]) > settings.targetCIWidth else { continue }
            extensions.append(.init(cell: cell, trials: min(settings.round, settings.maxTrials - scheduled)))
        }
        for (i, _) in newCells.enumerated() {
            extensions.append(.init(cell: cells.count + i, trials: min(settings.minTrials, settings.maxTrials)))
        }
        guard !extensions.isEmpty else { return nil }
        return AdaptiveRound(number: rounds.count + 1, newCells: newCells, extensions: extensions)
    }

    private func refinements(_ refine: RefineSettings, tallies: [CellTally]) -> [AdaptiveRound.NewCell] {
        var existing = Set(cells.map(\.settings))
        var out: [AdaptiveRound.NewCell] = []
        for axis in refine.axes {
            guard let position = cells.grid.firstIndex(where: { $0.key == axis }) else { continue }
            let gridValues = cells.grid[position].values.compactMap(\.number)
            let logarithmic = refine.isLogarithmic(axis, values: gridValues)
            let isInteger = cells.grid[position].values.allSatisfy { if case .int = $0 { true } else { false } }
            // Cells equal on every other axis, in order of their first cell.
            var groups: [[AxisSetting]: [Int]] = [:]
            var order: [[AxisSetting]] = []
            for cell in cells {
                var others = cell.settings
                others.remove(at: position)
                if groups[others] == nil { order.append(others) }
                groups[others, default: []].append(cell.index)
            }
            for others in order {
                let members = groups[others]!.sorted {
                    (cells[$0].settings[position].value.number ?? 0) < (cells[$1].settings[position].value.number ?? 0)
                }
                for (a, b) in zip(members, members.dropFirst()) {
                    guard let ra = tallies[a].rate, let rb = tallies[b].rate, abs(ra - rb) > refine.threshold else { continue }
                    let level = max(level(ofCell: a), level(ofCell: b)) + 1
                    guard level <= refine.levels,
                          let va = cells[a].settings[position].value.number,
                          let vb = cells[b].settings[position].value.number
                    else { continue }
                    var middle = logarithmic && va > 0 && vb > 0 ? (va * vb).squareRoot() : (va + vb) / 2
                    let value: AxisValue
                    if isInteger {
                        middle = middle.rounded()
                        guard middle > min(va, vb), middle < max(va, vb) else { continue }
                        value = .int(Int(middle))
                    } else {
                        guard middle > min(va, vb), middle < max(va, vb) else { continue }
                        value = .double(middle)
                    }
                    var settings = cells[a].settings
                    settings[position].value = value
                    guard existing.insert(settings).inserted else { continue }
                    out.append(.init(settings: settings, level: level))
                }
            }
        }
        return out
    }
}
