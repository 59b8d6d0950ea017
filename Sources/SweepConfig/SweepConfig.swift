// SweepConfig
