/// The backups page's download worker: a service worker that lets the browser save an export as it streams in,
/// rather than holding all of it in the tab first (`Blob`), without putting the token in a URL.
///
/// The page hands it, by message, the export's API address and the token, under a random one-time id; then the
/// page navigates to `/_/backups/download/<id>`. The worker answers that navigation itself: it fetches the export
/// with the token in `Authorization` and returns its body as an attachment, which the browser streams to disk. The
/// id is useless anywhere else (the server never sees it; the entry is forgotten once used), and an error from the
/// API is sent back to the page as its one-line message, the navigation answered 204 so the page stays. Where
/// service workers are not available (plain HTTP off loopback), the page keeps its in-memory download.
extension BackupsPage {
    static let downloadWorker = #"""
        "use strict";
        // velo's backups page: streams exports to disk for the page (see BackupsPageDownloadWorker.swift).
        const pending = new Map();
        self.addEventListener("install", () => self.skipWaiting());
        self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));
        self.addEventListener("message", (event) => {
          const { id, url, token } = event.data || {};
          const port = event.ports[0];
          if (typeof id !== "string" || typeof url !== "string" || !port) return;
          if (new URL(url).origin !== self.location.origin) return;  // the page's own API only
          pending.set(id, { url, token, port });
          setTimeout(() => pending.delete(id), 60000);
          port.postMessage({ ready: true });
        });
        self.addEventListener("fetch", (event) => {
          const match = /\/download\/([A-Za-z0-9_-]{16,})$/.exec(new URL(event.request.url).pathname);
          if (!match) return;
          const entry = pending.get(match[1]);
          pending.delete(match[1]);
          if (!entry) {
            event.respondWith(new Response(null, { status: 204 }));
            return;
          }
          entry.port.postMessage({ fetching: true });
          event.respondWith((async () => {
            let response;
            try {
              response = await fetch(entry.url, { headers: { Accept: "application/json", Authorization: "Bearer " + entry.token }, cache: "no-store" });
            } catch (e) {
              entry.port.postMessage({ error: "velo serve cannot be reached (" + String(e.message).split("\n")[0] + ")", status: 0 });
              return new Response(null, { status: 204 });
            }
            if (!response.ok) {
              let message = response.status + " " + response.statusText;
              try {
                const payload = JSON.parse(await response.text());
                if (payload && typeof payload.message === "string") message = payload.message;
              } catch (e) { /* not JSON: the status line */ }
              entry.port.postMessage({ error: message, status: response.status });
              return new Response(null, { status: 204 });
            }
            const headers = new Headers({ "Content-Type": response.headers.get("Content-Type") || "application/octet-stream" });
            for (const name of ["Content-Disposition", "Content-Length"]) {
              const value = response.headers.get(name);
              if (value) headers.set(name, value);
            }
            entry.port.postMessage({ started: true, disposition: response.headers.get("Content-Disposition") || "", length: Number(response.headers.get("Content-Length") || 0) });
            return new Response(response.body, { status: 200, headers });
          })());
        });
        """#
}
