import CZeroMQ
import Glibc

/// A failed libzmq call: the errno it left and the function that failed.
public struct ZMQError: Error, CustomStringConvertible, Equatable, Sendable {
    public var code: Int32
    public var function: String

    public init(code: Int32, function: String = "") {
        self.code = code
        self.function = function
    }

    public var description: String {
        let text = String(cString: zmq_strerror(code))
        return function.isEmpty ? text : "\(function): \(text)"
    }

    /// Non-blocking call would block (or a receive timed out).
    public static let again = ZMQError(code: EAGAIN)
    /// The context was shut down or terminated: every blocked call returns this.
    public static let terminated = ZMQError(code: ETERM)
    public static let interrupted = ZMQError(code: EINTR)
    /// A ROUTER with `routerMandatory` cannot route to that peer (it is gone).
    public static let hostUnreachable = ZMQError(code: EHOSTUNREACH)
    public static let invalid = ZMQError(code: EINVAL)
    public static let addressInUse = ZMQError(code: EADDRINUSE)

    /// Two errors are the same error when their errno is, whatever call reported it.
    public static func == (lhs: ZMQError, rhs: ZMQError) -> Bool { lhs.code == rhs.code }

    /// Lets `catch ZMQError.again` match whatever function failed.
    public static func ~= (pattern: ZMQError, value: any Error) -> Bool {
        (value as? ZMQError)?.code == pattern.code
    }

    public static func ~= (pattern: ZMQError, value: ZMQError) -> Bool {
        value.code == pattern.code
    }
}

/// Calls a libzmq function that returns -1 on failure, retrying on EINTR.
@discardableResult
func check(_ function: String = #function, _ body: () -> Int32) throws(ZMQError) -> Int32 {
    while true {
        let rc = body()
        if rc != -1 { return rc }
        let code = zmq_errno()
        if code == EINTR { continue }
        throw ZMQError(code: code, function: function)
    }
}

/// The libzmq version linked at run time.
public var zmqVersion: (major: Int, minor: Int, patch: Int) {
    var major: Int32 = 0, minor: Int32 = 0, patch: Int32 = 0
    zmq_version(&major, &minor, &patch)
    return (Int(major), Int(minor), Int(patch))
}
