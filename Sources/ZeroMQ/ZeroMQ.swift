import CZeroMQ
func _probe() { var a: Int32 = 0, b: Int32 = 0, c: Int32 = 0; zmq_version(&a, &b, &c); _ = zmq_has("curve") }
