/// The backups page's HTML: a shell the script fills in. `{{API}}` becomes the API's path prefix (`--api-prefix`);
/// nothing else of the server (no token, no path of its) is in it.
extension BackupsPage {
    static let document = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="velo-api" content="{{API}}">
        <title>Backups · velo</title>
        <link rel="stylesheet" href="/_/backups/page.css">
        <script src="/_/backups/page.js" defer></script>
        </head>
        <body>
        <header class="top">
          <h1>Backups <span id="tenant-name" class="tenant"></span></h1>
          <button id="signout" type="button" hidden>Sign out</button>
        </header>
        <div id="message" class="message" role="status" aria-live="polite"></div>
        <main>
          <section id="login" hidden aria-labelledby="login-title">
            <h2 id="login-title">Sign in</h2>
            <p class="note">As a superuser of the served database, as in Veloquent's admin UI.</p>
            <form id="login-form">
              <label for="identity">Email</label>
              <input id="identity" name="identity" type="email" autocomplete="username" required>
              <label for="password">Password</label>
              <input id="password" name="password" type="password" autocomplete="current-password" required>
              <button id="login-button" type="submit">Sign in</button>
            </form>
          </section>

          <div id="app" hidden>
            <section aria-labelledby="overview-title">
              <div class="bar">
                <h2 id="overview-title">Overview</h2>
                <p id="overview-state"></p>
                <span class="spacer"></span>
                <label for="max-age">Stale after</label>
                <input id="max-age" class="short" placeholder="26h" aria-describedby="max-age-help">
                <span id="max-age-help" class="note">(e.g. 26h, 2d)</span>
                <button id="refresh" type="button">Refresh</button>
              </div>
              <div class="scroll">
                <table>
                  <caption>Every source of the repository: its newest snapshot, last verification and continuous capture</caption>
                  <thead><tr><th scope="col">source</th><th scope="col">status</th><th scope="col">newest snapshot</th><th scope="col">last verified</th><th scope="col">point in time</th><th scope="col" class="num">snapshots</th><th scope="col" class="num">stored</th></tr></thead>
                  <tbody id="overview-body"></tbody>
                </table>
              </div>
              <p id="no-sources" class="note" hidden>No snapshots in the repository yet: back the database up.</p>
              <h3 id="chart-title">Size over time</h3>
              <div id="chart" class="chart"></div>
            </section>

            <section aria-labelledby="snapshots-title">
              <div class="bar">
                <h2 id="snapshots-title">Snapshots</h2>
                <span class="spacer"></span>
                <label for="tag-filter">Tag</label>
                <select id="tag-filter"></select>
                <button id="backup" type="button">Back up now</button>
                <button id="verify-all" type="button">Verify all</button>
              </div>
              <div id="backup-progress" class="progress" hidden>
                <label for="backup-meter">Backup</label>
                <progress id="backup-meter" max="1"></progress>
                <span id="backup-detail" aria-live="polite"></span>
              </div>
              <div class="scroll">
                <table>
                  <caption>Newest first</caption>
                  <thead><tr><th scope="col">time</th><th scope="col">id</th><th scope="col">tags</th><th scope="col" class="num">rows</th><th scope="col" class="num">added</th><th scope="col">verified</th><th scope="col">actions</th></tr></thead>
                  <tbody id="snapshots-body"></tbody>
                </table>
              </div>
              <p id="no-snapshots" class="note" hidden>No snapshots of this source with that tag.</p>
              <div id="verify-results"></div>
            </section>

            <section id="moments" hidden aria-labelledby="moments-title">
              <h2 id="moments-title">Point in time</h2>
              <p id="moments-window"></p>
              <div class="bar">
                <label for="moment">Moment (UTC)</label>
                <input id="moment" type="datetime-local" step="0.001" aria-describedby="moment-help">
                <button id="plan-moment" type="button">Plan restore</button>
              </div>
              <p id="moment-help" class="note">Any moment of the restorable window: the database as it was after the last commit velo saw at or before it, merged into the served database by primary key.</p>
            </section>

            <section id="detail" hidden aria-labelledby="detail-title">
              <h2 id="detail-title">Snapshot</h2>
              <div id="detail-body" class="scroll"></div>
            </section>

            <section id="restore" hidden aria-labelledby="restore-title">
              <h2 id="restore-title">Restore</h2>
              <div id="restore-body" class="scroll"></div>
              <div id="restore-result"></div>
            </section>

            <section aria-labelledby="retention-title">
              <h2 id="retention-title">Retention</h2>
              <p id="policy-source" class="note"></p>
              <label for="policy">Policy (JSON, as retention.example.json)</label>
              <textarea id="policy" rows="8" spellcheck="false"></textarea>
              <div class="bar">
                <button id="dry-run" type="button">Dry run</button>
                <button id="prune" type="button" class="danger" disabled>Prune</button>
              </div>
              <div id="retention-result" class="scroll"></div>
            </section>
          </div>
        </main>
        </body>
        </html>
        """#
}
