import Foundation

/// The gradient flow `(u, v)' = −∇ ½‖A(u^D − v^D) − y‖²` integrated by the Dormand–Prince 5(4)
/// pair and PI controller of the deep network's `flow` (FlowStep.swift), on the flat state (u, v).
struct DiagonalFlow {
    let problem: DiagonalProblem
    let y: [Double]
    let horizon: Double
    let rtol: Double, atol: Double
    private(set) var time = 0.0
    private var control: StepSizeControl
    /// The gradient at each stage; `stages[0]` at the current point (first same as last).
    private var stages: [[Double]]
    private var started = false

    init(problem: DiagonalProblem, y: [Double], horizon: Double, initialStep: Double, rtol: Double, atol: Double) {
        self.problem = problem
        self.y = y
        self.horizon = horizon
        self.rtol = rtol
        self.atol = atol
        control = StepSizeControl(h: initialStep)
        stages = Array(repeating: [], count: 7)
    }

    private func gradient(_ x: [Double], depth: Int) -> [Double] {
        let n = problem.dimension
        let network = DiagonalNetwork(u: Array(x[0..<n]), v: Array(x[n...]), depth: depth)
        let g = problem.gradient(network, y: y)
        return g.u + g.v
    }

    var finished: Bool { time >= horizon }

    /// One accepted step (rejected trials repeat shorter), never past the horizon.
    mutating func step(_ network: inout DiagonalNetwork) throws(FlowStop) {
        let depth = network.depth
        let start = network.u + network.v
        if !started {
            stages[0] = gradient(start, depth: depth)
            started = true
        }
        let p = DormandPrince.self
        while true {
            let remaining = horizon - time
            let h = min(control.h, remaining)
            guard h > 1e-14 * max(time, horizon) else { throw .stepUnderflow }
            var point = start
            for s in 1..<7 {
                point = start
                for (j, a) in p.a[s].enumerated() where a != 0 {
                    let g = stages[j]
                    for c in point.indices { point[c] -= h * a * g[c] }
                }
                stages[s] = gradient(point, depth: depth)
            }
            var sum = 0.0
            for c in point.indices {
                var error = 0.0
                for (j, e) in p.e.enumerated() where e != 0 { error -= h * e * stages[j][c] }
                let r = error / (atol + rtol * max(abs(start[c]), abs(point[c])))
                sum += r * r
            }
            let err = (sum / Double(max(point.count, 1))).squareRoot()
            if err <= 1 {
                time = h == remaining ? horizon : time + h
                stages.swapAt(0, 6)
                control.accepted(h, error: err, remaining: remaining)
                let n = problem.dimension
                network.u = Array(point[0..<n])
                network.v = Array(point[n...])
                return
            }
            control.rejected(h, error: err)
        }
    }
}
