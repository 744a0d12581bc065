/// Which methods each route answers, from the OpenAPI document (one list of the routes velo serves), for
/// Laravel's answers to a known path with another method (405 with `Allow`) and to HEAD.
struct RouteTable: Sendable {
    /// Path patterns (segments; `{name}` matches any one) with their methods, upper-case.
    let routes: [(segments: [String], methods: Set<String>)]

    init(prefix: String) {
        var routes: [([String], Set<String>)] = []
        for (path, operations) in OpenAPIDocument.json(prefix: prefix)["paths"]?.objectValue ?? [] {
            let full = (prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix) + path
            routes.append((full.split(separator: "/").map(String.init), Set((operations.objectValue ?? []).map { $0.0.uppercased() })))
        }
        self.routes = routes
    }

    /// The methods `path` answers, in Laravel's order (GET, HEAD, POST, PUT, PATCH, DELETE), HEAD with GET;
    /// empty when no route has that path. Matched as the router's trie matches: at each segment a literal route
    /// wins over a `{parameter}` one (`backups/prune` is never `backups/{snapshot}`).
    func methods(for path: String) -> [String] {
        let segments = path.split(separator: "/").map(String.init)
        var candidates = routes.filter { $0.segments.count == segments.count }
        for (i, segment) in segments.enumerated() {
            let literal = candidates.filter { $0.segments[i] == segment }
            candidates = literal.isEmpty ? candidates.filter { $0.segments[i].hasPrefix("{") && $0.segments[i].hasSuffix("}") } : literal
        }
        var found = candidates.reduce(into: Set<String>()) { $0.formUnion($1.methods) }
        if found.contains("GET") { found.insert("HEAD") }
        return ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].filter(found.contains)
    }
}
