import Synchronization

/// Response bodies still being streamed (exports, archive downloads). Graceful shutdown waits for them: the
/// server stops accepting once a signal arrives, but a download that has begun is finished, not cut.
final class ActiveStreams: Sendable {
    private let count = Mutex(0)

    /// One stream; ends when released or when dropped without having run.
    final class Token: Sendable {
        private let streams: ActiveStreams
        private let done = Mutex(false)

        fileprivate init(_ streams: ActiveStreams) { self.streams = streams }

        func release() {
            let first = done.withLock { d -> Bool in
                defer { d = true }; return !d
            }
            if first { streams.count.withLock { $0 -= 1 } }
        }

        deinit { release() }
    }

    func begin() -> Token {
        count.withLock { $0 += 1 }
        return Token(self)
    }

    var active: Int { count.withLock { $0 } }
}
