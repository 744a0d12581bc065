/// Quoting of SQL identifiers and literals. Every identifier velo puts into SQL goes through `SQL.quote`.
package enum SQL {
    /// Quotes an identifier (table, column, index, savepoint) with double quotes, doubling embedded quotes.
    package static func quote(_ identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Quotes a comma-separated list of identifiers.
    package static func quoteList(_ identifiers: [String]) -> String {
        identifiers.map(quote).joined(separator: ", ")
    }

    /// Quotes a text literal with single quotes, doubling embedded quotes.
    package static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
