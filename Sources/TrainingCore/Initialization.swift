public import LinearAlgebra

/// Layer shapes of the network: W_1 is n_1 × m, W_l is n_l × n_{l-1}, W_L is d × n_{L-1}.
public func layerShapes(depth: Int, width: Int, measurements m: Int, signalDim d: Int) -> [(rows: Int, columns: Int)] {
    (0..<depth).map { l in
        let rows = l == depth - 1 ? d : width
        let columns = l == 0 ? m : width
        return (rows, columns)
    }
}

/// Initial weights (MODEL.md §2), drawn from `rng` layer by layer, W_1 first.
public func initialWeights(_ model: NetworkSpec, measurements m: Int, signalDim d: Int,
                           rng: inout NormalGenerator) throws -> [Matrix] {
    let shapes = layerShapes(depth: model.depth, width: model.width, measurements: m, signalDim: d)
    var weights: [Matrix]
    switch model.initScheme {
    case .kaiming, .zeroLast:
        weights = shapes.map { rng.normalMatrix(rows: $0.rows, columns: $0.columns, standardDeviation: 1 / Double($0.columns).squareRoot()) }
        if model.initScheme == .zeroLast, let last = shapes.last {
            weights[weights.count - 1] = Matrix(rows: last.rows, columns: last.columns)
        }
    case .orthogonal:
        weights = try shapes.map { shape in
            if shape.rows >= shape.columns {
                return try LAPACK.orthonormalColumns(rng.normalMatrix(rows: shape.rows, columns: shape.columns))
            }
            return try LAPACK.orthonormalColumns(rng.normalMatrix(rows: shape.columns, columns: shape.rows)).transposed
        }
    case .balanced:
        // W_l = O_l O_{l-1}ᵀ with orthonormal O_l (n_l × k0): then W_l W_lᵀ = O_l O_lᵀ = W_{l+1}ᵀ W_{l+1}.
        let dims = [m] + shapes.map(\.rows)
        let k0 = dims.min() ?? 1
        let frames = try dims.map { try LAPACK.orthonormalColumns(rng.normalMatrix(rows: $0, columns: k0)) }
        weights = (0..<shapes.count).map { l in
            var w = Matrix(rows: shapes[l].rows, columns: shapes[l].columns)
            BLAS.gemm(frames[l + 1], frames[l], transB: .transpose, into: &w)
            return w
        }
    }
    if model.initScale != 1 {
        for l in weights.indices { BLAS.scale(model.initScale, &weights[l]) }
    }
    return weights
}
