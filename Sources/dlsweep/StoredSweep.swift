import ResultsStore
import SweepConfig

/// A sweep's folder opened read-only with the config stored in it. The settings an older
/// version let that config give its model to no effect are named on standard error.
func openStoredSweep(_ directory: String) throws -> (ResultsStore, SweepConfiguration) {
    let (store, configuration) = try ResultsStore.openExisting(directory: directory)
    noteIgnoredSettings(configuration)
    return (store, configuration)
}

/// One line per setting of a stored sweep's config that its model does not use.
func noteIgnoredSettings(_ configuration: SweepConfiguration) {
    for setting in configuration.ignoredSettings {
        printError("note: \(setting) (a sweep started by an older version, which ignored it: read as it was)")
    }
}
