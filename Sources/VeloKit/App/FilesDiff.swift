import VeloFormat
import VeloRepository
import VeloStorage

/// The uploaded files that differ between two snapshots, by path: added, removed, and changed (other SHA-256),
/// from the two manifests alone.
package struct FilesDiff: Encodable, Sendable, Equatable {
    package var added: [String] = []
    package var removed: [String] = []
    package var changed: [String] = []
    package var unchanged = 0

    /// nil when neither snapshot holds files.
    package init?(_ a: Manifest, _ b: Manifest) {
        let before = Dictionary(a.files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { x, _ in x })
        let after = Dictionary(b.files.map { ($0.path, $0.sha256) }, uniquingKeysWith: { x, _ in x })
        guard !before.isEmpty || !after.isEmpty else { return nil }
        func name(_ entry: String) -> String { ArchiveFormat.fileRelativePath(entry: entry) ?? entry }
        for (path, sha) in after {
            if let old = before[path] {
                if old == sha { unchanged += 1 } else { changed.append(name(path)) }
            } else {
                added.append(name(path))
            }
        }
        for path in before.keys where after[path] == nil { removed.append(name(path)) }
        added.sort(); removed.sort(); changed.sort()
    }
}
