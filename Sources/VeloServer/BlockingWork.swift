import Dispatch

/// Runs VeloKit's synchronous work (SQLite, archives, bcrypt) on a thread of its own, never on the event loop:
/// while a backup or a restore runs, other requests keep being served. The closure and its result are handed
/// over whole to that thread and back (VeloKit's repository and snapshot handles are not `Sendable`, and are
/// never used by two threads at once).
enum BlockingWork {
    private static let queue = DispatchQueue(label: "velo.serve.work", qos: .userInitiated, attributes: .concurrent)

    private struct Handover<T>: @unchecked Sendable { let value: T }

    static func run<T>(_ body: @escaping () throws -> T) async throws -> T {
        let work = Handover(value: body)
        let result: Handover<T> = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { Handover(value: try work.value()) })
            }
        }
        return result.value
    }
}
