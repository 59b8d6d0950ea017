// SweepTable
