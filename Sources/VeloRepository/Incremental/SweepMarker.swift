import Foundation
import VeloFormat
import VeloStorage

/// The sweep marker (`PieceSweep`) of one writer's run, written when the run stores its first piece rather than
/// before it starts: a backup that stores none (nothing changed; every list and segment is already there) makes
/// no request for it, and a run that fails before storing anything has nothing to sweep. Shared by the threads
/// of a run (`velo backup --app` jobs, the list writer), which all call `ensure` before a piece is written.
package final class SweepMarker: @unchecked Sendable {
    let repository: Repository
    private let lock = NSLock()
    private var written = false
    private var alreadyThere = false

    package init(_ repository: Repository) { self.repository = repository }

    /// Writes the marker unless this run already did (one conditional write; a marker already there is left
    /// as it is). Call before storing a piece.
    package func ensure() throws {
        try lock.withLock {
            guard !written else { return }
            alreadyThere = try PieceSweep.markNeeded(repository)
            written = true
        }
    }

    /// Whether this run stored a piece (so may have left unreferenced ones if it failed).
    package var storedPieces: Bool { lock.withLock { written } }

    /// After a run that succeeded: removes the marker this run wrote (one that was there before it belongs to
    /// a sweep that could not finish, and stays for the next writer).
    package func finishSucceeded() {
        let (wrote, wasThere) = lock.withLock { (written, alreadyThere) }
        if wrote && !wasThere { PieceSweep.clearNeeded(repository) }
    }

    /// After a run that failed: sweeps what it stored, and removes the marker when nothing unreferenced is left
    /// (it stays for the next writer otherwise).
    package func finishFailed() {
        guard storedPieces else { return }
        if PieceSweep.run(repository).complete { PieceSweep.clearNeeded(repository) }
    }
}
