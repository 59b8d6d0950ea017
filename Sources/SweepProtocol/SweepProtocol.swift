// SweepProtocol
