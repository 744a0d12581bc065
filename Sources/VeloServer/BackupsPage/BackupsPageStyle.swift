/// The backups page's style sheet: one column on a phone's width, colours with WCAG AA contrast on white, state
/// shown by a word as well as a colour.
extension BackupsPage {
    static let style = #"""
        :root { --fg: #1b1f24; --muted: #57606a; --bg: #ffffff; --panel: #f6f8fa; --line: #d0d7de; --accent: #0550ae;
          --ok: #116329; --ok-bg: #dafbe1; --warn: #7d4e00; --warn-bg: #fff8c5; --bad: #a40e26; --bad-bg: #ffebe9; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
        body.working { cursor: progress; }
        .top { display: flex; align-items: center; gap: 1rem; padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
        .top h1 { font-size: 1.2rem; margin: 0; flex: 1; }
        .tenant { color: var(--muted); font-weight: normal; }
        main { max-width: 72rem; margin: 0 auto; padding: 0 1rem 3rem; }
        section { margin-top: 1.5rem; }
        h2 { font-size: 1.1rem; margin: 0; }
        h3 { font-size: 1rem; margin: 1rem 0 .5rem; }
        .bar { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin: .5rem 0; }
        .bar p { margin: 0; }
        .spacer { flex: 1; }
        .scroll { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
        caption { text-align: left; color: var(--muted); font-size: .85rem; padding-bottom: .25rem; }
        th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
        thead th { font-size: .85rem; color: var(--muted); font-weight: 600; }
        .num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.selected { background: #ddf4ff; }
        tr.blocked { background: var(--bad-bg); }
        tr.removed td { color: var(--bad); }
        .actions { white-space: nowrap; }
        .progress[hidden] { display: none; }
        .progress { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem; margin: .5rem 0; }
        .progress progress { flex: 1 1 12rem; min-width: 8rem; height: 1rem; accent-color: var(--accent); }
        button, select, input, textarea { font: inherit; }
        button { padding: .35rem .75rem; border: 1px solid var(--line); border-radius: 6px; background: var(--panel); color: var(--fg); cursor: pointer; min-height: 2.25rem; }
        button:hover { border-color: var(--accent); }
        button:disabled { opacity: .55; cursor: not-allowed; }
        button.danger { background: var(--bad); border-color: var(--bad); color: #fff; }
        button.link { border: 0; background: none; padding: 0; min-height: 0; color: var(--accent); text-decoration: underline; }
        :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
        input, select, textarea { padding: .35rem .5rem; border: 1px solid var(--muted); border-radius: 6px; background: var(--bg); color: var(--fg); }
        input.short { width: 6rem; }
        textarea { width: 100%; font-family: ui-monospace, monospace; font-size: .85rem; }
        label { font-weight: 600; }
        form { display: grid; gap: .4rem; max-width: 22rem; }
        form button { margin-top: .5rem; justify-self: start; }
        .note { color: var(--muted); font-size: .85rem; }
        .note.tenant { display: block; }
        .badge { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 700; text-transform: uppercase; }
        .badge.ok { color: var(--ok); background: var(--ok-bg); }
        .badge.warning { color: var(--warn); background: var(--warn-bg); }
        .badge.critical { color: var(--bad); background: var(--bad-bg); }
        .reasons { color: var(--muted); font-size: .85rem; }
        .tag { display: inline-block; margin-right: .25rem; padding: 0 .4rem; border: 1px solid var(--line); border-radius: 4px; font-size: .8rem; }
        .bad, li.bad { color: var(--bad); }
        li.ok { color: var(--ok); }
        .warn { color: var(--warn); font-weight: 700; }
        .message { margin: 0; padding: 0 1rem; min-height: 0; }
        .message.info, .message.ok, .message.error { padding: .6rem 1rem; }
        .message.ok { background: var(--ok-bg); color: var(--ok); }
        .message.info { background: var(--panel); }
        .message.error { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
        .blockers { border: 2px solid var(--bad); background: var(--bad-bg); color: var(--bad); padding: .5rem 1rem; border-radius: 6px; }
        .warnings { border: 1px solid var(--warn); background: var(--warn-bg); color: var(--warn); padding: .5rem 1rem; border-radius: 6px; margin-top: .5rem; }
        .confirm { display: grid; gap: .4rem; max-width: 24rem; margin-top: 1rem; }
        .chart svg { width: 100%; max-width: 40rem; height: auto; }
        .chart .axis { stroke: var(--muted); }
        .chart .bar { fill: #54aeff; }
        .chart .line { fill: none; stroke: var(--accent); stroke-width: 2; }
        .chart text { font-size: 11px; fill: var(--muted); }
        .legend { font-size: .85rem; color: var(--muted); }
        .key { display: inline-block; width: 1rem; height: .6rem; vertical-align: middle; }
        .key.line { border-top: 2px solid var(--accent); height: 0; }
        .key.bar { background: #54aeff; }
        code { font-family: ui-monospace, monospace; font-size: .85rem; }
        @media (max-width: 40rem) {
          th, td { padding: .3rem; }
          .top { flex-wrap: wrap; }
        }
        """#
}
