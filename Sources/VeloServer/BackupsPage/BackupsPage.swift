import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `velo serve`'s backups page, at `/_/backups` (`/` redirects there): an overview of the repository's sources,
/// a source's snapshots, their inspection and the change since the one before, back up, verify, download, plan
/// then restore (after the tenant's name is typed), and retention's dry run before a prune.
///
/// Plain HTML, CSS and JavaScript built into the binary (`BackupsPageDocument`, `BackupsPageStyle`,
/// `BackupsPageScript`, and the service worker that streams downloads, `BackupsPageDownloadWorker`): no CDN, no
/// build step, works offline. The page is only a client of the JSON API: it signs
/// in with the superuser login, keeps the token in `sessionStorage` and sends it as `Authorization`, so it can do
/// nothing the API does not allow that superuser. Its answers carry a content security policy that allows only
/// the page's own script, style and API (no inline script, no other origin, no framing).
struct BackupsPage: Sendable {
    static let path = "/_/backups"
    /// The document with the API's prefix in place.
    let document: String

    init(apiPrefix: String) {
        let escaped = apiPrefix.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        document = Self.document.replacingOccurrences(of: "{{API}}", with: escaped)
    }

    /// The page's three files and the redirect from `/`.
    func register(on router: Router<VeloRequestContext>) {
        let document = self.document
        router.get("/") { _, _ in Response(status: .found, headers: [.location: Self.path]) }
        router.get(RouterPath(Self.path)) { _, _ in Self.file(document, type: "text/html; charset=utf-8") }
        router.get(RouterPath(Self.path + "/page.css")) { _, _ in Self.file(Self.style, type: "text/css; charset=utf-8") }
        router.get(RouterPath(Self.path + "/page.js")) { _, _ in Self.file(Self.script, type: "text/javascript; charset=utf-8") }
        router.get(RouterPath(Self.path + "/download-worker.js")) { _, _ in
            Self.file(Self.downloadWorker, type: "text/javascript; charset=utf-8")
        }
        // What a download navigation meets when no worker answered it (the page's tab was closed, the worker
        // stopped): nothing, and the page stays where it was.
        router.get(RouterPath(Self.path + "/download/{id}")) { _, _ in Response(status: .noContent) }
    }

    /// The content security policy of every file of the page.
    static let policy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: blob:; worker-src 'self'; "
        + "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"

    static func file(_ text: String, type: String) -> Response {
        var headers: HTTPFields = [.contentType: type, .cacheControl: "no-cache"]
        headers[.contentSecurityPolicy] = policy
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The bytes of the page (HTML, CSS and JavaScript together, the download worker included).
    static var weight: Int { document.utf8.count + style.utf8.count + script.utf8.count + downloadWorker.utf8.count }
}
