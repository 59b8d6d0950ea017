/// The text of a decimal value as the tables and the database key it, and as error messages
/// quote a setting: the shortest text that round-trips, without a trailing `.0` (`0`, `0.1`,
/// `1e-05`).
public func decimalLabel(_ value: Double) -> String {
    var text = value.description  // as "\(value)", without the interpolation machinery
    if text.hasSuffix(".0") { text.removeLast(2) }
    return text
}
