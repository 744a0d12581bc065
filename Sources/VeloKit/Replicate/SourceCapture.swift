import CSQLite
import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Continuous capture of one source database: every poll moves the pin (`WALPin`) forward and reads the frames
/// committed to the log since the last poll into a spool file, stamped with the time they were seen; every
/// interval the replicator takes what was read into a batch. When capture cannot carry on from where it stood
/// (velo was stopped and the log was started over meanwhile), it records a gap and takes a new base, never
/// leaving a silent hole.
final class SourceCapture {
    /// One section of the next batch: a base, a gap, frames of one generation.
    struct Pending {
        var section: CapturedSource
        var spool: SpoolFile?
    }

    /// The source's absolute path.
    let path: String
    private let wal: WALFile
    private let pin: WALPin
    /// The connection that seals the log (`BEGIN IMMEDIATE`) when it must be started over.
    private let sealer: Database
    private let spoolFolder: String
    /// The log frames after which velo starts the log over itself (`seal`).
    private let capFrames: Int
    /// The prefix of base objects' names: 16 hex digits of the source's content address.
    private let key: String
    /// How old a chain may get (ms) before capture makes a new base and starts a new one, without a gap, so
    /// that retention can remove what is older and a restore reads at most one chain.
    private let baseEvery: Int64
    /// When the current chain started (ms).
    private var chainStarted: Int64

    /// Where reading the log carries on; nil before the first generation after a base without a log.
    private(set) var position: WALPosition?
    /// False until a base of the current chain is stored.
    private var hasBase = false
    /// True while the pin was held without a break since the last read: only then is a generation that follows
    /// the last one read known to continue it (a writer starts the log over only once every frame of it is in
    /// the database file, and the pin keeps that from happening past what velo read).
    private var pinnedSinceRead = false
    /// Every commit up to this moment (ms) has been read.
    private(set) var through: Int64
    /// The gap the next base closes.
    private var openGap: CaptureGap?
    /// Set when capture resumed a chain the repository holds (from that chain's last moment) until the first
    /// read: commits it finds were made while velo was stopped, at times no one recorded.
    private var resumedAfter: Int64?
    /// Where the repository's captures stood when this process started, until the first read decides whether
    /// capture carries on from there (`carryOn`).
    private var restarted: CaptureTail?
    private var pending: [Pending] = []
    /// What was read since the replicator last asked (for its report).
    private(set) var commitsRead = 0

    /// - Parameter tail: where the repository's captures of the source end, when there are any: capture resumes
    ///   from there when the log still holds the next frames, and records a gap otherwise.
    init(
        path: String, storage: any RepositoryStorage, spoolFolder: String, capFrames: Int, baseEvery: Int64, tail: CaptureTail?
    ) throws {
        self.path = path
        wal = WALFile(database: path)
        pin = try WALPin(path: path)
        sealer = try Database(path: path, mode: .readWrite, busyTimeout: .milliseconds(200))
        _ = velo_sqlite3_no_checkpoint_on_close(sealer.handle)
        try sealer.execute("PRAGMA wal_autocheckpoint=0")
        self.spoolFolder = spoolFolder
        self.capFrames = capFrames
        self.baseEvery = baseEvery
        chainStarted = tail?.chainStart ?? 0
        key = String(storage.contentAddress(Array(path.utf8)).prefix(16))
        through = tail?.through ?? 0
        if let tail {
            position = tail.position
            hasBase = true
            restarted = tail
        }
    }

    /// Moves the pin forward and reads what was committed since the last poll; takes a base first when the
    /// chain needs one.
    func poll(storage: any RepositoryStorage, stream: String) throws {
        do {
            try pin.advance()
            try read(storage: storage, stream: stream)
            if hasBase, Self.now - chainStarted >= baseEvery { try rebase(storage: storage, stream: stream) }
        } catch {
            // The pin may be gone: a log started over from here on is not known to continue what was read.
            pinnedSinceRead = false
            throw error
        }
    }

    /// Reads the log from `position` (the pin held).
    private func read(storage: any RepositoryStorage, stream: String) throws {
        if !hasBase { try takeBase(storage: storage, stream: stream) }
        if let tail = restarted {
            restarted = nil
            try carryOn(from: tail, storage: storage, stream: stream)
        }
        guard let header = try wal.header() else {
            through = Self.now
            return
        }
        if let current = position, !current.isGeneration(of: header) {
            if pinnedSinceRead && current.isFollowed(by: header) {
                position = WALPosition(start: header)
            } else {
                try lose(
                    "the log was started over (checkpoint \(current.checkpointSequence) to \(header.checkpointSequence)) before velo read all of it",
                    storage: storage, stream: stream)
                return try read(storage: storage, stream: stream)
            }
        } else if position == nil {
            guard pinnedSinceRead else {
                try lose("velo stopped before the log's first generation was read", storage: storage, stream: stream)
                return try read(storage: storage, stream: stream)
            }
            position = WALPosition(start: header)
        }
        guard let from = position else { return }
        let target = try frames(for: from)
        let spool = target.spool!
        let committedBytes = spool.bytes
        let recordSize = Int64(4 + from.pageSize)
        let result: WALFile.Read
        do {
            result = try wal.readFrames(after: from) { frame in try spool.append(page: frame.pageNumber, frame.page) }
        } catch {
            try? spool.truncate(to: committedBytes)  // the spool holds exactly the committed frames, as before
            throw error
        }
        let kept = Int64(result.position.frames - from.frames)
        try spool.truncate(to: committedBytes + kept * recordSize)
        if spool.unpackedBytes >= SpoolFile.packAt { try spool.pack() }
        let seen = Self.now
        if kept > 0 {
            var section = pending[target.index].section
            var frames = section.frames!
            frames.count += Int(kept)
            frames.checksum = result.position.checksum
            frames.commits += result.commits.map { CapturedCommit(frame: $0.frame, pages: $0.pages, seen: seen) }
            section.frames = frames
            if let resumedAfter {
                // Nothing is lost, but when each of these was made is unknown: restores between the two moments
                // are refused, as in any gap, while the chain goes on.
                section.gap = CaptureGap(
                    from: resumedAfter, to: seen,
                    reason: "velo was stopped: the \(result.commits.count) commits made meanwhile are kept, not when each was made")
            }
            pending[target.index].section = section
            commitsRead += result.commits.count
        }
        pending[target.index].section.through = seen  // every commit of the section's source up to now is read
        resumedAfter = nil
        position = result.position
        through = seen
        pinnedSinceRead = true
    }

    /// Decides, at the first read after a restart (the pin held), whether capture carries on from where the
    /// repository's captures of the source end:
    /// - the log is still the generation it was reading: it does, from the next frame (frames found were
    ///   committed while velo was stopped, at unknown times: a gap that keeps them, `read`);
    /// - else, when nothing was read after the chain's base and the database file is that base byte for byte:
    ///   nothing was committed meanwhile that the file does not show, so it does too, from the log's first frame
    ///   if there is a log (an idle database restarted makes no gap and no new base);
    /// - else commits may have been made and checkpointed while velo was stopped (the last connection to close
    ///   checkpoints and deletes the log): a gap, and a new base.
    private func carryOn(from tail: CaptureTail, storage: any RepositoryStorage, stream: String) throws {
        let header = try wal.header()
        if let position, let header, position.isGeneration(of: header) {
            resumedAfter = tail.through
            return
        }
        if let base = tail.base, try databaseIs(bytes: base.bytes, sha256: base.sha256) {
            if position == nil {
                // The chain's base had no log: the first generation written after it carries it on.
                position = header.map(WALPosition.init(start:))
                pinnedSinceRead = true
            } else {
                // The chain stands at a log position no log continues now: the same bytes start a new chain, as of
                // the old one's last moment (no gap between them).
                try takeBase(storage: storage, stream: stream, asOf: tail.through)
            }
            resumedAfter = header == nil ? nil : tail.through  // a log found holds commits made while stopped
            return
        }
        if header == nil, let stop = tail.stopped, try databaseIs(bytes: stop.bytes, sha256: stop.sha256) {
            // A graceful stop recorded the database as of the chain's end, and the file is that database: nothing
            // was committed meanwhile that the file does not show. The log the chain stood in is gone, so the same
            // bytes start the next chain, as of the old one's last moment (no gap between them).
            try takeBase(storage: storage, stream: stream, asOf: tail.through)
            resumedAfter = nil
            return
        }
        let reason: String
        switch (position, header) {
        case (let position?, let header?):
            reason =
                "the log was started over (checkpoint \(position.checkpointSequence) to \(header.checkpointSequence)) while velo was stopped"
        case (_?, nil):
            reason = "the log was checkpointed and removed while velo was stopped"
        case (nil, _):
            reason = "the database changed while velo was stopped, before velo had read any of its log"
        }
        try lose(reason, storage: storage, stream: stream)
    }

    /// True when the database file (read under the pin, through SQLite's descriptor) has `bytes` bytes whose
    /// SHA-256 is `sha256`.
    private func databaseIs(bytes: Int64, sha256: String) throws -> Bool {
        let file = pin.spare
        guard try WALPin.fileSize(file) == bytes else { return false }
        var hash = SHA256Digest()
        let read = try WALPin.readFile(file, bytes: bytes) { chunk, _ in hash.update(chunk) }
        return read == bytes && hash.hex() == sha256
    }

    /// What `recordStop` found, for the source's last section of the last batch.
    private(set) var stopped: CaptureStop?

    /// Records the database exactly as of the last read (`DatabaseAsOf`: the file with the log's frames up to
    /// there written over it), by size and SHA-256, for the batch a graceful stop stores last. A restart that finds
    /// the log removed then compares the file with it (`carryOn`) instead of recording a gap. Records nothing when
    /// the pin did not hold since the last read or the log no longer holds what was read.
    func recordStop() throws {
        // Only while the pin has held since the last read: else a checkpoint may have copied later commits into
        // the file, and what is streamed would be no moment of the database.
        guard pinnedSinceRead else { return }
        var hash = SHA256Digest()
        let size: Int64?
        if let position {
            size = try DatabaseAsOf.stream(file: pin.spare, wal: wal, position: position) { hash.update($0) }
        } else {
            // No log was read since the base: the file alone is the database, as long as there is still no log.
            guard try wal.header() == nil else { return }
            let bytes = try WALPin.fileSize(pin.spare)
            size = try WALPin.readFile(pin.spare, bytes: bytes) { chunk, _ in hash.update(chunk) } == bytes ? bytes : nil
        }
        guard let size else { return }
        stopped = CaptureStop(through: through, bytes: size, sha256: hash.hex())
    }

    /// The pending section that takes the frames after `position`, made when the last one cannot.
    private func frames(for position: WALPosition) throws -> (index: Int, spool: SpoolFile?) {
        if let last = pending.indices.last, let frames = pending[last].section.frames, frames.generation == WALGeneration(position),
            frames.last == position.frames
        {
            return (last, pending[last].spool)
        }
        let frames = CapturedFrames(
            generation: WALGeneration(position), pageSize: position.pageSize, first: position.frames + 1, count: 0, offset: 0,
            checksum: position.checksum, bigEndianChecksums: position.bigEndianChecksums, commits: [])
        if let last = pending.indices.last, pending[last].section.frames == nil, pending[last].spool == nil {
            // The base's own section takes the first frames after it.
            pending[last].section.frames = frames
            pending[last].spool = try SpoolFile(folder: spoolFolder)
            return (last, pending[last].spool)
        }
        pending.append(
            Pending(section: CapturedSource(source: path, through: through, frames: frames), spool: try SpoolFile(folder: spoolFolder)))
        return (pending.count - 1, pending.last!.spool)
    }

    /// Records that capture lost its place, and takes a new base.
    private func lose(_ reason: String, storage: any RepositoryStorage, stream: String) throws {
        Diagnostics.warn("\(path): gap in continuous capture: \(reason); taking a new base")
        openGap = CaptureGap(from: through == 0 ? nil : through, to: 0, reason: reason)
        resumedAfter = nil  // the new base's gap says it all
        hasBase = false
        position = nil
        try takeBase(storage: storage, stream: stream)
    }

    /// Stores a copy of the database file, taken under the pin, as the start of a new chain: from now, or from
    /// `asOf` when the file is known to have been the database since then.
    private func takeBase(storage: any RepositoryStorage, stream: String, asOf: Int64? = nil) throws {
        let header = try wal.header()
        // Read through SQLite's own descriptor of the file, never a second one (`WALPin.fileSize`).
        let file = pin.spare
        let size = try WALPin.fileSize(file)
        let time = Self.now
        let name = StoredName(.capture, String(format: "%013lld-%@-%@.base", time, stream, key))
        let sha = try CaptureObjects.writeBase(path, bytes: size, as: name, to: storage) { buffer, offset in
            try WALPin.read(file, into: buffer, at: offset)
        }
        let pageSize = try header?.pageSize ?? Int(pin.spare.pragma("page_size")?.int64Value ?? 4096)
        let start = header.map(WALPosition.init(start:))
        let base = CaptureBase(object: name.name, pageSize: pageSize, bytes: size, sha256: sha, log: start, time: asOf)
        var gap = openGap
        gap?.to = time
        pending.append(Pending(section: CapturedSource(source: path, through: time, gap: gap, base: base), spool: nil))
        chainStarted = time
        openGap = nil
        position = start
        hasBase = true
        pinnedSinceRead = true
    }

    /// Makes a new base while capture goes on, and starts a new chain at it without a gap: the database file,
    /// read through SQLite's descriptor under the pin, with the log's frames of this generation up to `position`
    /// written over it, is the database exactly as after that frame (the pin keeps any checkpoint from copying a
    /// later one into the file). Stored as a base that stands at `position`; the next frames continue it.
    private func rebase(storage: any RepositoryStorage, stream: String) throws {
        guard let position, let header = try wal.header(), position.isGeneration(of: header) else { return }
        let image = try SpoolFile.Scratch(folder: spoolFolder, name: "base")
        var written: Int64 = 0
        let streamed = try DatabaseAsOf.stream(file: pin.spare, wal: wal, position: position) { piece in
            try image.write(piece, at: written)
            written += Int64(piece.count)
        }
        // The frames must be the ones captured: else this is no base of the chain (tried again next poll).
        guard let size = streamed else { return }
        try image.truncate(to: size)
        let time = Self.now
        let name = StoredName(.capture, String(format: "%013lld-%@-%@.base", time, stream, key))
        let sha = try CaptureObjects.writeBase(image.path, bytes: size, as: name, to: storage) { buffer, at in
            try image.read(into: buffer, at: at)
        }
        // The base is the database as of the last read (`through`): its chain starts exactly where this one ends.
        let base = CaptureBase(object: name.name, pageSize: position.pageSize, bytes: size, sha256: sha, log: position, time: through)
        pending.append(Pending(section: CapturedSource(source: path, through: time, base: base), spool: nil))
        chainStarted = time
    }

    /// This interval's sections, handed to the batch (their spool files with them); the next frames start a new one.
    func take() -> [Pending] {
        var taken = pending.filter { $0.section.base != nil || $0.section.gap != nil || ($0.section.frames?.count ?? 0) > 0 }
        // The last section says how far capture has read; one before it ends where it was when the next began
        // (a chain that a made base ends stops there).
        if let last = taken.indices.last { taken[last].section.through = max(taken[last].section.through, through) }
        for i in taken.indices {
            if taken[i].section.frames?.count == 0 {
                taken[i].section.frames = nil
                taken[i].spool = nil
            }
        }
        pending = []
        commitsRead = 0
        return taken
    }

    /// Puts back what `take` handed out, before anything read since: the batch that was to hold it could not be
    /// stored, and the next one will.
    func giveBack(_ taken: [Pending]) {
        pending = taken + pending
    }

    /// How long the last seal held the write lock (ms), and the longest.
    private(set) var lastSealMilliseconds: Double?
    private(set) var longestSealMilliseconds: Double = 0

    /// When the log has grown past the cap: takes the write lock for a moment, reads the last frames, lets a
    /// checkpoint copy everything into the database file and moves the pin to the file alone, so the next writer
    /// starts the log over. A checkpoint of what the pin allows runs first, without any lock, so the lock is held
    /// only for the frames of the last poll. True when it sealed; false when the log is under the cap or the
    /// application held the write lock (tried again next interval).
    @discardableResult
    func sealIfNeeded(storage: any RepositoryStorage, stream: String) throws -> Bool {
        guard let position, position.frames >= capFrames else { return false }
        var log: Int32 = 0
        var done: Int32 = 0
        // First, without any lock: the pin moved to the newest commit, what it allows copied into the file. The
        // lock then covers only what is committed meanwhile.
        try pin.advance()
        try read(storage: storage, stream: stream)
        _ = velo_sqlite3_checkpoint(pin.spare.handle, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
        do {
            try sealer.execute("BEGIN IMMEDIATE")
        } catch let error as SQLiteError where error.isBusy {
            return false
        }
        let started = ContinuousClock.now  // the writers' wait on velo starts here
        defer {
            try? sealer.execute("ROLLBACK")
            let held = ContinuousClock.now - started
            let ms = held.inSeconds * 1000
            lastSealMilliseconds = ms
            longestSealMilliseconds = max(longestSealMilliseconds, ms)
        }
        try read(storage: storage, stream: stream)
        // No writer can start the log over while velo holds the write lock, so the pin may pause here.
        pin.release()
        _ = velo_sqlite3_checkpoint(pin.spare.handle, SQLITE_CHECKPOINT_PASSIVE, &log, &done)
        do {
            try pin.advance()
        } catch {
            pinnedSinceRead = false  // without a pin, the next generation is not known to continue this one
            throw error
        }
        return true
    }

    /// Ends the pin (on stop).
    func close() { pin.release() }

    static var now: Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
}
