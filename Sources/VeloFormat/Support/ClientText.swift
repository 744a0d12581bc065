/// Makes an error's words fit for a client of `velo serve`: every absolute path becomes its last component (a
/// client learns which file, never where the server keeps it) and SQL quoted after ` [in: ` is dropped.
public enum ClientText {
    public static func scrub(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        if let sql = rest.range(of: " [in: ") { rest = rest[..<sql.lowerBound] }
        var index = rest.startIndex
        while index < rest.endIndex {
            let c = rest[index]
            let startsPath = c == "/" && (index == rest.startIndex || " ('\"=,;:[".contains(rest[rest.index(before: index)]))
            guard startsPath else {
                out.append(c)
                index = rest.index(after: index)
                continue
            }
            var end = index
            while end < rest.endIndex, !" '\"),;[]".contains(rest[end]),
                !(rest[end] == ":" && rest.index(after: end) < rest.endIndex && rest[rest.index(after: end)] == " ")
            {
                end = rest.index(after: end)
            }
            let path = rest[index..<end]
            let last = path.split(separator: "/").last.map(String.init) ?? ""
            out += last.isEmpty ? "/" : last
            index = end
        }
        return out
    }
}
