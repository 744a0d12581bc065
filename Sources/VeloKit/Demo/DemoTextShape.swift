import VeloFormat
import VeloRepository
import VeloStorage

/// The shape of a demo database's text (post titles and bodies, comments), for benchmarks of both kinds of data.
public enum DemoTextShape: String, Sendable, CaseIterable {
    /// Sentences of a short word list: compresses very well (about 5x with zstd -3), like templated text.
    case words
    /// Sentences of random lowercase "words" of 2 to 9 letters: compresses about as little as natural text
    /// with a large vocabulary (about 2x to 2.5x), the harder case for a backup.
    case random
}
