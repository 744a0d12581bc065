import Foundation
import Logging
import VeloKit

/// The CLI's own warnings, through the same swift-log handler as the library's.
let log = Logger(label: "velo")

/// Writing results: JSON for programs, aligned text for people.
enum Output {
    /// Prints an Encodable value as indented JSON, properties in declaration order, keys in snake_case.
    static func json<T: Encodable>(_ value: T) throws {
        FileHandle.standardOutput.write(Data(try jsonText(value).utf8))
    }

    /// The text `json` prints.
    static func jsonText<T: Encodable>(_ value: T) throws -> String {
        JSONWriter.string(try JSONValueEncoder().encode(value), pretty: true) + "\n"
    }

    /// Formats rows as left-aligned columns (numbers right-aligned) under a header.
    static func table(_ header: [String], _ rows: [[String]], indent: String = "  ") -> String {
        guard !rows.isEmpty else { return "" }
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) }
        }
        let numeric = header.indices.map { i in
            rows.allSatisfy { i < $0.count && (Int($0[i].replacingOccurrences(of: ",", with: "")) != nil || $0[i] == "-") }
        }
        func line(_ cells: [String]) -> String {
            let padded = cells.enumerated().map { i, cell -> String in
                let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                return numeric[i] ? pad + cell : cell + pad
            }
            return indent + padded.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    /// `1234567` as `1.2 MiB`.
    static func bytes(_ n: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
        return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// `1234567` as `1,234,567`.
    static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return n < 0 ? "-" + out : out
    }
}
