import VeloFormat
import VeloRepository
import VeloStorage

/// Word lists and writers for demo text, appending straight into byte buffers so a million rows stay cheap.
enum DemoText {
    static let words: [[UInt8]] = """
        backup restore snapshot archive tenant record collection schema field index query server cache token \
        release deploy migrate rotate verify plan audit stream commit rollback replica journal page cluster \
        garden river mountain coffee morning evening library window kitchen travel market weekend festival \
        simple quiet bright careful steady rapid gentle honest modern ancient hidden golden silver local \
        build write read share learn guide notes story ideas lessons review update launch design notice
        """.split(separator: " ").map { Array($0.utf8) }

    static let firstNames = [
        "ann", "ben", "carla", "dmitri", "elif", "femi", "grace", "hiro", "ines", "jonas",
        "kofi", "lena", "mateo", "nadia", "omar", "priya", "quinn", "rosa", "sven", "tariq",
        "uma", "viktor", "wen", "ximena", "yusuf", "zoe",
    ]
    static let lastNames = [
        "smith", "garcia", "muller", "rossi", "kowalski", "nakamura", "okafor", "silva",
        "larsen", "dubois", "novak", "haddad", "kim", "patel", "ivanova", "moreau",
    ]
    static let tags = [
        "swift", "sqlite", "backups", "laravel", "php", "devops", "security", "release-notes",
        "tutorial", "performance", "databases", "cloud", "linux", "testing", "design", "api",
        "frontend", "mobile", "privacy", "open-source", "career", "events", "hardware", "ai",
        "networking", "storage", "monitoring", "docs", "community", "roadmap",
    ]
    static let colors = ["red", "green", "blue", "amber", "gray"]

    /// Appends `count` words separated by spaces, the first capitalised: words of the list above, or (for
    /// `.random`) 2 to 9 random lowercase letters each, which compress far less well.
    static func appendWords(_ count: Int, shape: DemoTextShape = .words, to buffer: inout [UInt8], random: inout SeededRandom) {
        for i in 0..<count {
            if i > 0 { buffer.append(0x20) }
            if shape == .random {
                let letters = 2 + random.below(8)
                var bits = random.next()
                for k in 0..<letters {
                    if k == 6 { bits = random.next() }
                    let letter = 0x61 + UInt8(truncatingIfNeeded: bits % 26)
                    bits /= 26
                    buffer.append(i == 0 && k == 0 ? letter - 32 : letter)
                }
                continue
            }
            let word = words[random.below(words.count)]
            if i == 0, let first = word.first, first >= 0x61 {
                buffer.append(first - 32)
                buffer.append(contentsOf: word.dropFirst())
            } else {
                buffer.append(contentsOf: word)
            }
        }
    }

    /// Appends a few sentences, separated by blank lines into paragraphs now and then.
    static func appendParagraphs(sentences: Int, shape: DemoTextShape = .words, to buffer: inout [UInt8], random: inout SeededRandom) {
        for s in 0..<sentences {
            if s > 0 { buffer.append(contentsOf: random.chance(20) ? [0x0A, 0x0A] : [0x20]) }
            appendWords(6 + random.below(10), shape: shape, to: &buffer, random: &random)
            buffer.append(UInt8(ascii: "."))
        }
    }

    /// A bcrypt-shaped hash (`$2y$12$` + 53 characters of bcrypt's alphabet), as Laravel's `hashed` cast stores.
    static func bcryptShaped(_ random: inout SeededRandom) -> String {
        let alphabet = Array("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var bytes = Array("$2y$12$".utf8)
        for _ in 0..<53 { bytes.append(alphabet[random.below(alphabet.count)]) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `count` random lowercase hex digits (sha256 token hashes, fingerprints).
    static func hex(_ count: Int, _ random: inout SeededRandom) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: (0..<count).map { _ in digits[random.below(16)] }, as: UTF8.self)
    }
}
