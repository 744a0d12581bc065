import Crypto
import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// `velo copy`: copies snapshots from one repository to another (a local repository for fast restores and an
/// off-site bucket, restic's `copy`), storing only what the destination lacks. Objects go in restic's order,
/// each whole or not at all: the packs, then the segment lists, then the archive, then the catalog detail and
/// entry, so a copy killed at any point leaves no catalog entry pointing at missing data; the pieces it stored
/// before dying are referenced by nothing and swept by the destination's next writer (the sweep marker is set
/// first, as a backup does).
///
/// What is copied is checked on the way: an archive must hash to the SHA-256 its catalog entry records, and a
/// segment list is read and checked (its name is its hash) before its packs are copied; damage in the source
/// is an error naming the object, never copied. Snapshots the destination already holds (by id) are skipped, so
/// running the same copy again is cheap (one listing of each piece kind, no data). A copied snapshot keeps its
/// id, time, source and tags; it gets the destination's next sequence number and no verification result (it
/// has not been verified there). Between repositories of different keys every object is decrypted and encrypted
/// again on its way (each storage seals its own), and segment lists are stored under the destination's names
/// (`ListReaddressing`).
public enum SnapshotCopy {
    /// What `velo copy` reports.
    public struct Report: Encodable, Sendable {
        public struct Copied: Encodable, Sendable {
            public var id: String
            public var time: String
            public var source: String
            /// Objects stored in the destination for this snapshot (pieces it lacked, the archive, the catalog's two).
            public var objects: Int
            public var bytes: Int64
        }
        public var from: String
        public var to: String
        public var copied: [Copied] = []
        /// Snapshots the destination already held.
        public var skipped: [String] = []
        /// Pieces (packs and lists) the snapshots use that the destination already held.
        public var piecesShared = 0
        public var objects = 0
        public var bytes: Int64 = 0
        public var seconds = 0.0
        /// Requests sent to each repository billed by request (nil for a folder).
        public var requestsFrom: StorageRequests?
        public var requestsTo: StorageRequests?
    }

    /// Copies `entries` (catalog entries of `source`) into `destination`, oldest first.
    /// - Throws: `.locked` when another velo holds the destination, `.damaged` naming a source object that does
    ///   not match what refers to it, `StorageError`, `.interrupted`.
    public static func run(
        from source: Repository, to destination: Repository, entries: [CatalogEntry], progress: (any ProgressObserver)? = nil
    ) throws -> Report {
        let started = ContinuousClock.now
        let fromBefore = source.storage.requests, toBefore = destination.storage.requests
        guard source.root != destination.root else {
            throw VeloError("\(source.root): a repository cannot be copied into itself", kind: .usage)
        }
        var report = Report(from: source.root, to: destination.root)
        try {
            let lock = try destination.writerLock(command: "velo copy")
            defer { lock.release() }
            try copyAll(entries, from: source, to: destination, report: &report, progress: progress)
        }()
        progress?.finish()
        report.seconds = (ContinuousClock.now - started).inSeconds
        if let fromBefore, let now = source.storage.requests { report.requestsFrom = now - fromBefore }
        if let toBefore, let now = destination.storage.requests { report.requestsTo = now - toBefore }
        return report
    }

    /// The copy proper, under the destination's lock.
    private static func copyAll(
        _ entries: [CatalogEntry], from source: Repository, to destination: Repository, report: inout Report,
        progress: (any ProgressObserver)?
    ) throws {
        let held = Set(try destination.catalog.scan().entries.map(\.id))
        let wanted = entries.sorted { ($0.time, $0.sequence, $0.id) < ($1.time, $1.sequence, $1.id) }
        report.skipped = wanted.filter { held.contains($0.id) }.map(\.id)
        let toCopy = wanted.filter { !held.contains($0.id) }
        if !toCopy.isEmpty {
            try Backup.withSweep(destination, incremental: true) {
                // Pieces are copied as objects, not through a piece store: the marker goes first.
                try destination.sweepMarker?.ensure()
                // What the destination holds, listed once for all snapshots.
                var present: [StoredKind: Set<String>] = [.pack: [], .list: []]
                for kind in [StoredKind.pack, .list] { try destination.storage.list(kind) { name, _ in present[kind]!.insert(name.name) } }
                var copier = ObjectCopier(from: source.storage, to: destination.storage, progress: progress)
                // Lists are named by content addresses, keyed in an encrypted repository: between repositories that
                // name them differently, each list is stored under the destination's name (`ListReaddressing`).
                let differentNames = source.storage.contentAddress([]) != destination.storage.contentAddress([])
                var readdressing =
                    differentNames ? ListReaddressing(source: PieceStore(storage: source.storage), destination: destination.storage) : nil
                for (n, entry) in toCopy.enumerated() {
                    try Interruption.check()
                    progress?.report(done: n, total: toCopy.count, unit: "snapshots", detail: SnapshotID.short(entry.id))
                    let (objects, bytes) = (copier.objects, copier.bytes)
                    report.piecesShared += try copy(
                        entry, from: source, to: destination, present: &present, copier: &copier, readdressing: &readdressing)
                    report.copied.append(
                        .init(
                            id: entry.id, time: Timestamp.iso8601(entry.time), source: entry.sourcePath, objects: copier.objects - objects,
                            bytes: copier.bytes - bytes))
                }
                report.objects = copier.objects
                report.bytes = copier.bytes
            }
        }
    }

    /// Copies one snapshot's pieces the destination lacks, its archive and its catalog records; returns how many
    /// of its pieces the destination already had.
    private static func copy(
        _ entry: CatalogEntry, from source: Repository, to destination: Repository, present: inout [StoredKind: Set<String>],
        copier: inout ObjectCopier, readdressing: inout ListReaddressing?
    ) throws -> Int {
        let archive = try source.archiveName(of: entry)
        let bytesBefore = copier.bytes
        let (_, segments) = try SegmentedSnapshot.read(archive, in: source)
        var shared = 0
        if let segments {
            let store = PieceStore(storage: source.storage)
            var lists: [String] = []
            var packs: [String] = []
            for list in segments.listPieces where !lists.contains(list) { lists.append(list) }
            for table in segments.allTables {
                for pack in try store.readList(table.list, segments: table.segments).packs where !packs.contains(pack) {
                    packs.append(pack)
                }
            }
            // Data first, then what points at it.
            for (kind, names) in [(StoredKind.pack, packs), (.list, readdressing == nil ? lists : [])] {
                for name in names {
                    if present[kind]!.contains(name) {
                        shared += 1
                        continue
                    }
                    try copier.copy(StoredName(kind, name), expectedSHA256: nil)
                    present[kind]!.insert(name)
                }
            }
        }
        var copied = entry
        if var renaming = readdressing, let segments {
            let lists = try renaming.copy(segments.listPieces, present: &present[.list, default: []])
            readdressing = renaming
            copier.objects += lists.objects
            copier.bytes += lists.bytes
            shared += lists.shared
            let written = try rewriteArchive(archive, of: entry, from: source, to: destination, segments: renaming.rewrite(segments))
            (copied.archiveBytes, copied.archiveSHA256) = written
            copier.objects += 1
            copier.bytes += written.bytes
        } else {
            try copier.copy(archive, expectedSHA256: entry.archiveSHA256)
        }
        let (header, manifest) = try source.catalog.detail(entry.id)
        // What the snapshot added to the destination (the archive and the pieces it lacked), as a backup records.
        if entry.storedBytes != nil { copied.storedBytes = copier.bytes - bytesBefore - entry.archiveBytes }
        copied.sequence = try destination.catalog.nextSequence()
        copied.verification = nil
        try destination.catalog.write(copied, header: header, manifest: manifest)
        copier.objects += 2
        return shared
    }
}

extension SnapshotCopy {
    /// Writes the archive of an incremental snapshot into `destination` with `segments` (its lists under their
    /// destination names) in place of its own `segments.json`; every other entry is copied as it is, and the source
    /// archive is checked against its catalog entry's SHA-256 as it is read. Returns the new archive's size and
    /// SHA-256.
    static func rewriteArchive(
        _ name: StoredName, of entry: CatalogEntry, from source: Repository, to destination: Repository, segments: SegmentsDocument
    ) throws -> (bytes: Int64, sha256: String) {
        let reader = try ArchiveReader(
            input: StoredArchiveInput(try source.storage.open(name), description: source.storage.describe(name)))
        let writer = try ArchiveWriter(output: try destination.createArchive(name), level: 3, workers: 0, windowLog: 20)
        do {
            while let item = try reader.nextEntry() {
                let bytes =
                    item.path == SegmentFormat.segmentsPath
                    ? Array((JSONWriter.string(segments.json, pretty: true) + "\n").utf8)
                    : try reader.readAll(limit: ArchiveFormat.maxJSONEntryBytes * 2)
                _ = try writer.addEntry(path: item.path, bytes: bytes, modificationTime: entry.time)
            }
            let read = try reader.finishReading()
            guard read.sha256 == entry.archiveSHA256 else {
                throw VeloError(
                    "\(source.storage.describe(name)): its SHA-256 is \(read.sha256), its catalog entry records \(entry.archiveSHA256); not copied (run velo verify on it)",
                    kind: .damaged)
            }
            return try writer.finish()
        } catch {
            writer.abort()
            throw error
        }
    }
}

/// Streams objects from one storage to another, 1 MiB at a time (never an object whole in memory), checking an
/// expected SHA-256 when there is one; the copy appears only when it is complete and sound.
struct ObjectCopier {
    let from: any RepositoryStorage
    let to: any RepositoryStorage
    let progress: (any ProgressObserver)?
    var objects = 0
    var bytes: Int64 = 0
    static let chunk = 1 << 20

    init(from: any RepositoryStorage, to: any RepositoryStorage, progress: (any ProgressObserver)?) {
        self.from = from
        self.to = to
        self.progress = progress
    }

    mutating func copy(_ name: StoredName, expectedSHA256: String?) throws {
        let reader = try from.open(name)
        let writer = try to.create(name)
        var hash = SHA256()
        var buffer = [UInt8](repeating: 0, count: Self.chunk)
        var offset: Int64 = 0
        do {
            while offset < reader.size {
                try Interruption.check()
                let count = Int(min(Int64(Self.chunk), reader.size - offset))
                try buffer.withUnsafeMutableBytes { raw in
                    try reader.read(at: offset, count: count, into: raw.baseAddress!)
                    let part = UnsafeRawBufferPointer(rebasing: raw[0..<count])
                    hash.update(bufferPointer: part)
                    try writer.write(part)
                }
                offset += Int64(count)
            }
            if let expectedSHA256 {
                let actual = hash.finalize().map { String(format: "%02x", $0) }.joined()
                guard actual == expectedSHA256 else {
                    throw VeloError(
                        "\(from.describe(name)): its SHA-256 is \(actual), its catalog entry records \(expectedSHA256); not copied (run velo verify on it)",
                        kind: .damaged)
                }
            }
            try writer.commit()
        } catch {
            writer.abort()
            throw error
        }
        objects += 1
        bytes += reader.size
    }
}
