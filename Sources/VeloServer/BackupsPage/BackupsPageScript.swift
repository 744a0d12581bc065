/// The backups page's script: plain JavaScript (no framework, no build step) over velo serve's JSON API. The
/// superuser's token is kept in `sessionStorage` and sent as `Authorization`; every error the API returns is shown
/// as its one-line `message`.
extension BackupsPage {
    static let script = #"""
        "use strict";
        // velo's backups page: plain JavaScript over velo serve's JSON API, with the superuser's token in sessionStorage
        // (sent as Authorization, never in a URL). Every error the API returns is shown as its one-line message.
        (() => {
          const api = document.querySelector('meta[name="velo-api"]').content;
          const tokenKey = "velo.token";
          const $ = (id) => document.getElementById(id);
          const state = { status: null, snapshots: [], source: null, tag: "", snapshot: null, plan: null, strategies: {}, pruned: null };

          // ---- building blocks ----
          function h(tag, attrs, ...children) {
            const node = document.createElement(tag);
            for (const [key, value] of Object.entries(attrs || {})) {
              if (value === false || value == null) continue;
              if (key === "class") node.className = value;
              else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
              else node.setAttribute(key, value === true ? "" : value);
            }
            for (const child of children.flat()) if (child != null && child !== false) node.append(child instanceof Node ? child : String(child));
            return node;
          }
          // Replaces an element's children, leaving out absent ones (replaceChildren would write "null").
          const fill = (node, ...children) => node.replaceChildren(...children.flat().filter((c) => c != null && c !== false));
          const oneLine = (text) => String(text).split("\n")[0].slice(0, 400);
          function bytes(n) {
            if (n == null) return "–";
            const units = ["B", "KiB", "MiB", "GiB", "TiB"];
            let i = 0, v = n;
            while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
            return (i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)) + " " + units[i];
          }
          // A length of time as people say it: 40 s, 12 min, 5 h, 3 d.
          function duration(seconds) {
            if (seconds < 90) return Math.max(0, Math.round(seconds)) + " s";
            if (seconds < 5400) return Math.round(seconds / 60) + " min";
            if (seconds < 129600) return Math.round(seconds / 3600) + " h";
            return Math.round(seconds / 86400) + " d";
          }
          const age = (seconds) => seconds == null ? "–" : duration(seconds) + " ago";
          const spanOf = (s) => s % 86400 === 0 ? s / 86400 + "d" : s % 3600 === 0 ? s / 3600 + "h" : s % 60 === 0 ? s / 60 + "m" : s + "s";
          const utc = (iso) => iso.replace("T", " ").replace(/\.\d+Z$/, " UTC");
          const when = (iso) => iso ? iso.replace("T", " ").replace("Z", " UTC") : "–";
          const short = (id) => id.slice(0, 8);
          const count = (n) => n == null ? "–" : Number(n).toLocaleString("en");

          function say(text, kind) {
            const box = $("message");
            box.textContent = text || "";
            box.className = text ? "message " + (kind || "info") : "message";
            box.setAttribute("role", kind === "error" ? "alert" : "status");
          }

          class APIError extends Error {
            constructor(status, message) { super(message); this.status = status; }
          }

          async function call(method, path, body, accept) {
            const headers = { Accept: accept || "application/json" };
            const token = sessionStorage.getItem(tokenKey);
            if (token) headers.Authorization = "Bearer " + token;
            if (body !== undefined) headers["Content-Type"] = "application/json";
            let response;
            try {
              response = await fetch(api + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
            } catch (e) {
              throw new APIError(0, "velo serve cannot be reached (" + oneLine(e.message) + ")");
            }
            if (!response.ok) {
              let message = response.status + " " + response.statusText;
              try {
                const payload = JSON.parse(await response.text());
                if (payload && typeof payload.message === "string") message = payload.message;
              } catch (e) { /* not JSON: the status line */ }
              if (response.status === 401 && token && !path.endsWith("/auth/login")) {
                // A request sent with an earlier token (the user has signed in again since) ends no session.
                if (sessionStorage.getItem(tokenKey) === token) signOut();
                throw new APIError(401, "Your session has ended (" + oneLine(message) + "): sign in again.");
              }
              throw new APIError(response.status, oneLine(message));
            }
            return response;
          }
          const json = async (method, path, body) => (await (await call(method, path, body)).json()).data;

          // The server-sent events of a response, read with fetch (the token stays in Authorization, which
          // EventSource cannot send): each as { name, data } with its JSON parsed.
          async function* events(response) {
            const reader = response.body.getReader();
            const decoder = new TextDecoder();
            let buffer = "";
            for (;;) {
              const { value, done } = await reader.read();
              if (done) return;
              buffer += decoder.decode(value, { stream: true });
              let end;
              while ((end = buffer.indexOf("\n\n")) >= 0) {
                const block = buffer.slice(0, end);
                buffer = buffer.slice(end + 2);
                let name = "message", data = "";
                for (const line of block.split("\n")) {
                  if (line.startsWith("event: ")) name = line.slice(7);
                  else if (line.startsWith("data: ")) data += line.slice(6);
                }
                if (data) yield { name, data: JSON.parse(data) };
              }
            }
          }

          // Runs an action with its button disabled and busy; its error becomes the page's one-line message.
          async function run(button, busyText, action) {
            const label = button ? button.textContent : null;
            if (button) { button.disabled = true; button.setAttribute("aria-busy", "true"); if (busyText) button.textContent = busyText; }
            document.body.classList.add("working");
            try {
              return await action();
            } catch (e) {
              say(e instanceof APIError ? e.message : "Something went wrong in the page: " + oneLine(e.message), "error");
              return undefined;
            } finally {
              document.body.classList.remove("working");
              if (button) { button.disabled = false; button.removeAttribute("aria-busy"); button.textContent = label; }
            }
          }

          // ---- signing in and out ----
          function signOut() {
            sessionStorage.removeItem(tokenKey);
            $("app").hidden = true;
            $("signout").hidden = true;
            $("login").hidden = false;
          }

          $("login-form").addEventListener("submit", (event) => {
            event.preventDefault();
            const button = $("login-button");
            run(button, "Signing in…", async () => {
              const data = await json("POST", "/collections/superusers/auth/login", { identity: $("identity").value, password: $("password").value });
              sessionStorage.setItem(tokenKey, data.token);
              $("password").value = "";
              say("");
              await start();
            });
          });
          $("signout").addEventListener("click", () => {
            run(null, null, async () => {
              try { await call("DELETE", "/collections/superusers/auth/logout"); } finally { signOut(); say("Signed out."); }
            });
          });

          async function start() {
            $("login").hidden = true;
            $("app").hidden = false;
            $("signout").hidden = false;
            await refresh();
          }

          // ---- overview ----
          async function refresh() {
            const maxAge = $("max-age").value.trim();
            const [status, snapshots] = await Promise.all([
              json("GET", "/backups/status" + (maxAge ? "?max_age=" + encodeURIComponent(maxAge) : "")),
              json("GET", "/backups"),
            ]);
            state.status = status;
            state.snapshots = snapshots;
            state.moments = await moments();
            renderMoments();
            if (!state.source || !status.sources.some((s) => s.source === state.source)) {
              state.source = (status.sources.find((s) => s.source === status.served) || status.sources[0] || { source: status.served }).source;
            }
            $("tenant-name").textContent = status.name;
            $("max-age").placeholder = spanOf(status.max_age_seconds);
            renderOverview();
            renderSnapshots();
            renderRetention();
          }

          // A source's continuous capture, as the overview shows it: the restorable span and the newest capture.
          function captureCell(c) {
            if (!c) return h("td", { class: "note" }, "not captured");
            const last = c.windows[c.windows.length - 1];
            return h("td", null, h("span", { class: "badge " + c.state }, c.state),
              " " + (last ? duration(c.window_seconds) + " restorable, to " + utc(last.to) : "nothing restorable yet") +
              " · newest " + age(Math.round(c.lag_seconds)) + (c.open_gap ? " · gap open" : ""));
          }

          function renderOverview() {
            const status = state.status;
            const captured = new Map((status.continuous || []).map((c) => [c.source, c]));
            // With a landlord, the tenant each source is (its name and domain), from the landlord's tenants.
            const tenantOf = (source) => { const t = (status.tenants || {})[source]; return t ? t.name + (t.domain ? " · " + t.domain : "") : null; };
            // A source captured continuously but never backed up is a source of the repository too.
            const sources = status.sources.concat((status.continuous || []).filter((c) => !status.sources.some((s) => s.source === c.source))
              .map((c) => ({ source: c.source, state: c.state, reasons: c.reasons, latest: null, last_verification: null, snapshots: 0, total_bytes: 0 })));
            const rows = sources.map((s) => h("tr", { class: state.source === s.source ? "selected" : null },
              h("th", { scope: "row" }, h("button", { class: "link", onclick: () => { state.source = s.source; state.snapshot = null; renderOverview(); renderSnapshots(); } }, s.source),
                s.source === status.served ? h("span", { class: "note" }, " (served)") : null,
                tenantOf(s.source) ? h("span", { class: "note tenant" }, tenantOf(s.source)) : null),
              h("td", null, h("span", { class: "badge " + s.state }, s.state), s.reasons.length ? h("span", { class: "reasons" }, " " + s.reasons.join("; ")) : null),
              h("td", null, s.latest ? age(s.latest.age_seconds) : "none"),
              h("td", null, s.last_verification ? (s.last_verification.ok ? "ok, " : "FAILED, ") + age(s.last_verification.age_seconds) : "never"),
              captureCell(captured.get(s.source)),
              h("td", { class: "num" }, count(s.snapshots)),
              h("td", { class: "num" }, bytes(s.total_bytes))));
            fill($("overview-body"), ...rows);
            fill($("overview-state"), h("span", { class: "badge " + status.state }, status.state),
              " " + sources.length + (sources.length === 1 ? " source" : " sources") + (status.encrypted ? " · encrypted repository" : ""));
            $("no-sources").hidden = sources.length > 0;
            renderChart();
          }

          // Repository size (what the source's snapshots added, summed) and each snapshot's size, over time: inline SVG.
          function renderChart() {
            const list = state.snapshots.filter((s) => sourceOf(s) === state.source);
            const box = $("chart");
            $("chart-title").textContent = "Size over time: " + (state.source || "");
            if (list.length === 0) { fill(box, h("p", { class: "note" }, "No snapshots yet.")); return; }
            const W = 640, H = 180, pad = 36;
            let total = 0;
            const points = list.map((s) => ({ t: Date.parse(s.time), added: s.bytes, total: (total += s.bytes) }));
            const t0 = points[0].t, t1 = Math.max(points[points.length - 1].t, t0 + 1);
            const x = (t) => pad + (W - 2 * pad) * (t - t0) / (t1 - t0);
            const y = (v) => H - pad + (-(H - 2 * pad) * v) / Math.max(total, 1);
            const ns = "http://www.w3.org/2000/svg";
            const svg = document.createElementNS(ns, "svg");
            svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
            svg.setAttribute("role", "img");
            svg.setAttribute("aria-label", `${list.length} snapshots; the repository holds ${bytes(total)} of them, the newest added ${bytes(points[points.length - 1].added)}`);
            const add = (name, attrs) => { const e = document.createElementNS(ns, name); for (const k in attrs) e.setAttribute(k, attrs[k]); svg.append(e); return e; };
            add("line", { x1: pad, y1: H - pad, x2: W - pad, y2: H - pad, class: "axis" });
            const barWidth = Math.max(2, Math.min(14, (W - 2 * pad) / points.length - 2));
            for (const p of points) {
              const bar = add("rect", { x: x(p.t) - barWidth / 2, y: y(p.added), width: barWidth, height: Math.max(1, H - pad - y(p.added)), class: "bar" });
              const tip = document.createElementNS(ns, "title");
              tip.textContent = `${new Date(p.t).toISOString()}: added ${bytes(p.added)}`;
              bar.append(tip);
            }
            add("polyline", { points: points.map((p) => `${x(p.t)},${y(p.total)}`).join(" "), class: "line" });
            const label = (text, lx, ly, anchor) => { const e = add("text", { x: lx, y: ly, "text-anchor": anchor || "start" }); e.textContent = text; };
            label(bytes(total), pad, pad - 8);
            label(when(list[0].time).slice(0, 16), pad, H - 10);
            label(when(list[list.length - 1].time).slice(0, 16), W - pad, H - 10, "end");
            fill(box, svg, h("p", { class: "legend" }, h("span", { class: "key line" }), " repository size (sum of what each snapshot added)  ", h("span", { class: "key bar" }, ""), " size of each snapshot"));
          }

          // ---- snapshots ----
          const sourceOf = (s) => s.source;

          function renderSnapshots() {
            const list = state.snapshots.filter((s) => sourceOf(s) === state.source);
            const tags = [...new Set(list.flatMap((s) => s.tags))].sort();
            const select = $("tag-filter");
            fill(select, h("option", { value: "" }, "all tags"), ...tags.map((t) => h("option", { value: t, selected: t === state.tag }, t)));
            if (!tags.includes(state.tag)) state.tag = "";
            const shown = list.filter((s) => !state.tag || s.tags.includes(state.tag)).reverse();
            $("snapshots-title").textContent = "Snapshots of " + (state.source || "");
            const served = state.source === state.status.served;
            $("backup").hidden = !served;
            fill($("snapshots-body"), ...shown.map((s) => h("tr", { class: state.snapshot === s.id ? "selected" : null },
              h("td", null, when(s.time)),
              h("td", null, h("code", null, short(s.id))),
              h("td", null, s.tags.map((t) => h("span", { class: "tag" }, t))),
              h("td", { class: "num" }, count(s.rows)),
              h("td", { class: "num" }, bytes(s.bytes)),
              h("td", null, s.verified == null ? "not yet" : s.verified_ok ? "ok" : h("span", { class: "bad" }, "FAILED")),
              h("td", { class: "actions" },
                h("button", { onclick: () => openSnapshot(s.id), "aria-label": "Open snapshot " + short(s.id) }, "Open"),
                h("button", { onclick: (e) => verify(e.currentTarget, s.id), "aria-label": "Verify snapshot " + short(s.id) }, "Verify"),
                h("button", { onclick: (e) => download(e.currentTarget, s), "aria-label": "Download snapshot " + short(s.id) }, "Download"),
                served ? h("button", { onclick: (e) => plan(e.currentTarget, s.id, true), "aria-label": "Plan a restore of snapshot " + short(s.id) }, "Restore…") : null))));
            $("no-snapshots").hidden = shown.length > 0;
          }
          $("tag-filter").addEventListener("change", (e) => { state.tag = e.target.value; renderSnapshots(); });
          $("refresh").addEventListener("click", (e) => run(e.currentTarget, "Refreshing…", refresh));
          $("max-age").addEventListener("change", (e) => run(null, null, refresh));

          // Back up now: the backup's progress comes as server-sent events, then its result or its error.
          function showProgress(p) {
            const meter = $("backup-meter");
            if (p.total) { meter.max = p.total; meter.value = Math.min(p.done, p.total); } else meter.removeAttribute("value");
            $("backup-detail").textContent = (p.detail ? p.detail + ": " : "") + count(p.done) + (p.total ? " of about " + count(p.total) : "") + " " + p.unit;
          }
          $("backup").addEventListener("click", (e) => run(e.currentTarget, "Backing up…", async () => {
            say("Backing up " + state.status.served + "…");
            const started = Date.now();
            const meter = $("backup-meter");
            meter.removeAttribute("value");
            $("backup-detail").textContent = "starting";
            $("backup-progress").hidden = false;
            let result = null;
            try {
              const response = await call("POST", "/backups", { tags: ["manual"] }, "text/event-stream");
              for await (const event of events(response)) {
                if (event.name === "progress") showProgress(event.data);
                else if (event.name === "result") result = event.data.data;
                else if (event.name === "error") throw new APIError(event.data.status || 500, oneLine(event.data.message));
              }
            } finally {
              $("backup-progress").hidden = true;
            }
            if (!result) throw new APIError(0, "The backup's answer ended early: refresh to see whether its snapshot was saved.");
            say(`Snapshot ${short(result.id)} taken in ${((Date.now() - started) / 1000).toFixed(1)} s: ${count(result.rows)} rows.`, "ok");
            await refresh();
          }));

          async function verify(button, id) {
            await run(button, "Verifying…", async () => {
              const reports = await json("POST", id ? `/backups/${id}/verify` : "/backups/verify");
              const bad = reports.filter((r) => !r.ok);
              fill($("verify-results"), h("h3", null, "Verification"), h("ul", null, reports.map((r) =>
                h("li", { class: r.ok ? "ok" : "bad" }, `${short(r.id || "?")}: ${r.ok ? "ok" : "FAILED"}` + (r.ok ? `, ${count(r.rows)} rows` : ": " + (r.problems || []).map(oneLine).join("; "))))));
              say(bad.length ? `${bad.length} of ${reports.length} snapshots failed verification.` : `${reports.length} ${reports.length === 1 ? "snapshot" : "snapshots"} verified: ok.`, bad.length ? "error" : "ok");
              await refresh();
            });
          }
          $("verify-all").addEventListener("click", (e) => verify(e.currentTarget, null));

          // Downloads: streamed to disk by the page's download worker where the browser runs one (the token goes to
          // it by message, never into a URL), else held in memory (a Blob) first.
          const pageBase = location.pathname.replace(/\/+$/, "");
          let workerRegistration = null;
          async function downloadWorker() {
            if (!("serviceWorker" in navigator) || !window.isSecureContext) return null;
            try {
              workerRegistration = workerRegistration || await navigator.serviceWorker.register(pageBase + "/download-worker.js");
              if (workerRegistration.active) return workerRegistration.active;
              const candidate = workerRegistration.installing || workerRegistration.waiting;
              if (!candidate) return null;
              return await new Promise((resolve) => {
                const timer = setTimeout(() => resolve(null), 5000);
                candidate.addEventListener("statechange", () => {
                  if (candidate.state === "activated") { clearTimeout(timer); resolve(candidate); }
                  if (candidate.state === "redundant") { clearTimeout(timer); resolve(null); }
                });
              });
            } catch (e) {
              return null;
            }
          }
          // The replies of a MessageChannel's port, one at a time.
          function replies(port) {
            const queue = [], waiting = [];
            port.onmessage = (e) => waiting.length ? waiting.shift()(e.data) : queue.push(e.data);
            return () => queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiting.push(resolve));
          }
          async function download(button, snapshot) {
            await run(button, "Downloading…", async () => {
              const worker = await downloadWorker();
              if (!worker) return downloadInMemory(snapshot);
              const id = Array.from(crypto.getRandomValues(new Uint8Array(18)), (b) => b.toString(16).padStart(2, "0")).join("");
              const channel = new MessageChannel();
              const next = replies(channel.port1);
              const url = new URL(api + `/backups/${snapshot.id}/export`, location.href).href;
              const token = sessionStorage.getItem(tokenKey);
              worker.postMessage({ id, url, token }, [channel.port2]);
              await next();
              location.assign(pageBase + "/download/" + id);
              // The worker says when the navigation reached it, then when the export's answer began (which may take
              // a while: the server writes the export before it sends it).
              const reached = await Promise.race([next(), new Promise((resolve) => setTimeout(() => resolve(null), 10000))]);
              if (!reached) throw new APIError(0, "The download did not start: reload the page and try again.");
              const reply = reached.fetching ? await next() : reached;
              if (reply.error) {
                if (reply.status === 401) {
                  if (sessionStorage.getItem(tokenKey) === token) signOut();
                  throw new APIError(401, "Your session has ended (" + oneLine(reply.error) + "): sign in again.");
                }
                throw new APIError(reply.status, oneLine(reply.error));
              }
              const match = /filename="([^"]+)"/.exec(reply.disposition);
              say(`Downloading ${match ? match[1] : snapshot.id} (${bytes(reply.length)}): your browser saves it as it arrives.`, "ok");
            });
          }
          async function downloadInMemory(snapshot) {
            const response = await call("GET", `/backups/${snapshot.id}/export`);
            const disposition = response.headers.get("Content-Disposition") || "";
            const match = /filename="([^"]+)"/.exec(disposition);
            const blob = await response.blob();
            const url = URL.createObjectURL(blob);
            const link = h("a", { href: url, download: match ? match[1] : snapshot.id + ".tar.zst" });
            document.body.append(link);
            link.click();
            link.remove();
            setTimeout(() => URL.revokeObjectURL(url), 60000);
            say(`Downloaded ${match ? match[1] : snapshot.id} (${bytes(blob.size)}).`, "ok");
          }

          // A snapshot's inspection, and what changed since the one before it (rows per collection).
          async function openSnapshot(id) {
            await run(null, null, async () => {
              state.snapshot = id;
              renderSnapshots();
              const list = state.snapshots.filter((s) => sourceOf(s) === state.source);
              const index = list.findIndex((s) => s.id === id);
              const previous = index > 0 ? list[index - 1] : null;
              const [info, before] = await Promise.all([json("GET", `/backups/${id}`), previous ? json("GET", `/backups/${previous.id}`) : null]);
              const rowsOf = (i) => Object.fromEntries((i ? i.collections : []).map((c) => [c.name, c.rows]));
              const now = rowsOf(info), then = rowsOf(before);
              const names = [...new Set([...Object.keys(now), ...Object.keys(then)])].sort();
              const diff = names.map((n) => h("tr", null, h("th", { scope: "row" }, n), h("td", { class: "num" }, before ? count(then[n]) : "–"),
                h("td", { class: "num" }, count(now[n])), h("td", { class: "num" }, before ? change((now[n] || 0) - (then[n] || 0)) : "–")));
              $("detail").hidden = false;
              $("detail-title").textContent = `Snapshot ${short(id)} · ${when(info.time)}`;
              fill($("detail-body"), 
                h("p", null, `${count(info.total_rows)} rows, ${(info.collections || []).length} collections, archive ${bytes(info.archive_bytes)}` +
                  (info.tags && info.tags.length ? ", tags " + info.tags.join(", ") : "") + (info.files ? `, ${count(info.files.count)} files` : "") + "."),
                h("table", null, h("caption", null, previous ? `Rows per collection, against the snapshot before it (${short(previous.id)})` : "Rows per collection (the first snapshot)"),
                  h("thead", null, h("tr", null, h("th", { scope: "col" }, "collection"), h("th", { scope: "col", class: "num" }, "before"), h("th", { scope: "col", class: "num" }, "this snapshot"), h("th", { scope: "col", class: "num" }, "change"))),
                  h("tbody", null, diff)));
              $("detail").scrollIntoView({ block: "nearest" });
            });
          }
          const change = (d) => d === 0 ? "=" : (d > 0 ? "+" : "−") + count(Math.abs(d));

          // ---- point in time (continuous capture) ----
          // The served database's capture, null when it is not captured (404).
          async function moments() {
            try { return await json("GET", "/backups/moments"); } catch (e) {
              if (e instanceof APIError && e.status === 404) return null;
              throw e;
            }
          }

          function renderMoments() {
            const m = state.moments;
            $("moments").hidden = !m;
            if (!m) return;
            const windows = m.windows.map((w) => utc(w.from) + " to " + utc(w.to)).join(", ") || "nothing yet";
            fill($("moments-window"), h("span", { class: "badge " + m.state }, m.state), " Restorable: " + windows +
              ". Newest capture " + age(Math.round(m.lag_seconds)) + "; " + count(m.gaps) + (m.gaps === 1 ? " gap" : " gaps") +
              (m.open_gap ? " (one open)" : "") + (m.reasons.length ? ". " + m.reasons.join("; ") : "."));
            const last = m.windows[m.windows.length - 1];
            if (last && !$("moment").value) $("moment").value = last.to.slice(0, 23);
          }

          $("plan-moment").addEventListener("click", (e) => {
            const value = $("moment").value;
            if (!value) { say("Choose a moment of the restorable window first.", "error"); return; }
            // The field holds UTC without a zone (datetime-local): the moment as ISO 8601 in UTC.
            const at = (value.length === 16 ? value + ":00" : value) + (value.includes(".") ? "" : ".000") + "Z";
            plan(e.currentTarget, { at }, true);
          });

          // ---- plan, then restore ----
          // `what`: a snapshot id, or { at } for a moment of continuous capture.
          const planPath = (what, step) => typeof what === "string" ? `/backups/${what}/${step}` : `/backups/moments/${step}`;
          const planBody = (what, extra) => Object.assign(typeof what === "string" ? {} : { at: what.at }, { conflict: "skip", conflict_for: state.strategies }, extra);
          const planName = (what) => typeof what === "string" ? `snapshot ${short(what)}` : `the moment ${utc(what.at)}`;

          async function plan(button, id, fresh) {
            await run(button, "Planning…", async () => {
              if (fresh) { state.strategies = {}; fill($("restore-result"), ); }
              const answer = await json("POST", planPath(id, "plan"), planBody(id));
              const result = typeof id === "string" ? answer : answer.plan;
              state.plan = { id, result };
              renderPlan();
              $("restore").hidden = false;
              $("restore").scrollIntoView({ block: "nearest" });
            });
          }

          function renderPlan() {
            const { id, result } = state.plan;
            const blockers = result.findings.filter((f) => f.severity === "error");
            const warnings = result.findings.filter((f) => f.severity === "warning");
            const collections = [...new Set(result.tables.map((t) => t.collection).filter(Boolean))];
            const strategyOf = (t) => t.collection ? (state.strategies[t.collection] || "skip") : t.strategy;
            const rows = result.tables.map((t) => h("tr", { class: blockers.some((b) => b.table === t.table) ? "blocked" : null },
              h("th", { scope: "row" }, t.collection || "(system)", h("div", { class: "note" }, t.table)),
              h("td", null, t.action), h("td", { class: "num" }, count(t.insert)), h("td", { class: "num" + (t.conflicting ? " warn" : "") }, count(t.conflicting)),
              h("td", { class: "num" }, count(t.identical)), h("td", { class: "num" }, count(t.only_in_target)),
              h("td", null, t.collection && collections.includes(t.collection) && (t.conflicting > 0 || state.strategies[t.collection])
                ? h("select", { "aria-label": "On conflict in " + t.collection, onchange: (e) => { state.strategies[t.collection] = e.target.value; plan(null, id, false); } },
                  ["skip", "overwrite"].map((s) => h("option", { value: s, selected: strategyOf(t) === s }, s === "skip" ? "keep the target's row" : "take the snapshot's row")))
                : t.conflicting > 0 ? t.strategy : "–")));
            $("restore-title").textContent = `Restore ${planName(id)} into ${state.status.served}`;
            const confirmName = state.status.name;
            const input = h("input", { id: "confirm-name", autocomplete: "off", spellcheck: "false", "aria-describedby": "confirm-help" });
            const go = h("button", { id: "restore-button", class: "danger", disabled: true }, "Restore");
            input.addEventListener("input", () => { go.disabled = !result.can_proceed || input.value !== confirmName; });
            go.addEventListener("click", () => restore(go, id));
            fill($("restore-body"), 
              blockers.length ? h("div", { class: "blockers", role: "alert" }, h("strong", null, "Blocked: this restore cannot run."), h("ul", null, blockers.map((f) => h("li", null, f.message)))) : null,
              warnings.length ? h("div", { class: "warnings" }, h("strong", null, "Warnings"), h("ul", null, warnings.map((f) => h("li", null, f.message)))) : null,
              h("table", null, h("caption", null, "What the restore would do, per table"),
                h("thead", null, h("tr", null, ["collection", "action", "insert", "conflicting", "identical", "only in target", "on conflict"].map((c) => h("th", { scope: "col" }, c)))),
                h("tbody", null, rows)),
              result.can_proceed
                ? h("div", { class: "confirm" },
                  h("label", { for: "confirm-name" }, "Type ", h("strong", null, confirmName), " to restore"),
                  h("p", { id: "confirm-help", class: "note" }, "A safety snapshot of the database is taken first; the restore runs in one transaction."),
                  input, go)
                : null);
          }

          async function restore(button, id) {
            await run(button, "Restoring…", async () => {
              const result = await json("POST", planPath(id, "restore"), planBody(id, { confirm: true }));
              say(`Restored ${planName(id)}.`, "ok");
              fill($("restore-result"), h("h3", null, "Restored"),
                h("p", null, `Inserted ${count(sum(result, "inserted"))} rows, overwrote ${count(sum(result, "updated"))}, kept ${count(sum(result, "skipped"))} as they were.`),
                result.safety_snapshot ? h("p", null, "Safety snapshot: ", h("code", null, result.safety_snapshot)) : null,
                result.undo ? h("p", null, "To undo: ", h("code", null, result.undo)) : null);
              fill($("restore-body"), );
              await refresh();
            });
          }
          // A restore's counts, summed over its tables (`records`: {table: {inserted, updated, skipped}}).
          const sum = (result, key) => Object.values(result.records || {}).reduce((a, t) => a + (t[key] || 0), 0);

          // ---- retention ----
          function renderRetention() {
            const area = $("policy");
            if (!area.dataset.touched) {
              area.value = JSON.stringify(state.status.retention || { keep_last: 10, keep_daily: 7, keep_weekly: 4, keep_tags: ["pre-restore"] }, null, 2);
            }
            $("policy-source").textContent = state.status.retention ? "The policy of the server's config." : "No policy in the server's config: an example.";
          }
          $("policy").addEventListener("input", (e) => { e.target.dataset.touched = "1"; $("prune").disabled = true; });

          function policy() {
            try { return JSON.parse($("policy").value); } catch (e) { throw new APIError(0, "The policy is not JSON: " + oneLine(e.message)); }
          }
          $("dry-run").addEventListener("click", (e) => run(e.currentTarget, "Computing…", async () => {
            const report = await json("POST", "/backups/prune", { policy: policy(), dry_run: true });
            state.pruned = report;
            const byId = Object.fromEntries(state.snapshots.map((s) => [s.id, s]));
            fill($("retention-result"), 
              h("p", null, `Keeps ${report.keep.length}, removes ${report.remove.length}, frees ${bytes(report.bytes_freed)}.`),
              h("table", null, h("caption", null, "What prune would do"),
                h("thead", null, h("tr", null, h("th", { scope: "col" }, "snapshot"), h("th", { scope: "col" }, "time"), h("th", { scope: "col" }, "source"), h("th", { scope: "col" }, "decision"))),
                h("tbody", null,
                  report.keep.map((k) => h("tr", null, h("td", null, h("code", null, short(k.id))), h("td", null, when(k.time)), h("td", null, byId[k.id] ? byId[k.id].source : ""), h("td", null, "keep: " + k.reasons.join(", ")))),
                  report.remove.map((r) => h("tr", { class: "removed" }, h("td", null, h("code", null, short(r.id))), h("td", null, when(r.time)), h("td", null, byId[r.id] ? byId[r.id].source : ""), h("td", null, "remove (" + bytes(r.bytes) + ")"))))));
            $("prune").disabled = report.remove.length === 0;
          }));
          $("prune").addEventListener("click", (e) => run(e.currentTarget, "Pruning…", async () => {
            if (!state.pruned) return;
            if (!window.confirm(`Remove ${state.pruned.remove.length} snapshots for good?`)) return;
            const report = await json("POST", "/backups/prune", { policy: policy(), dry_run: false });
            say(`Pruned: removed ${report.remove.length} snapshots, freed ${bytes(report.bytes_freed)}.`, "ok");
            $("prune").disabled = true;
            fill($("retention-result"), );
            await refresh();
          }));

          // ---- start ----
          if (sessionStorage.getItem(tokenKey)) run(null, null, start); else signOut();
        })();
        """#
}
