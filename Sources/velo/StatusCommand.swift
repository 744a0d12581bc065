import ArgumentParser
import Foundation
import VeloKit

struct StatusCommand: ParsableCommand, MonitoringCheck {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Tell whether every source has a recent, verified backup: for people, monitoring checks and Prometheus.",
        discussion: """
            Per source (a database file, a tenant): its newest snapshot and its age, the last verification and its result, and the size trend, read from the catalog alone (a cache under cache/ keeps this fast over hundreds of thousands of snapshots). Exit status, as a monitoring plugin: 0 when every source is fresh and verified; 1 (warning) when a source was never verified, or not within --max-verify-age; 2 (critical) when a source's newest snapshot is older than --max-age, when the last verification of one of its snapshots failed, when a source named in --config has no snapshot, or when a catalog entry is damaged; for continuous capture (velo replicate), 2 when a source's newest captured moment is older than --max-lag or a gap is open; 3 when the status cannot be read.
            """)

    @OptionGroup var repository: RepositoryOption

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Take the repository, the sources that must have snapshots and max_age from this config file (see velo.example.json).",
            valueName: "file"))
    var config: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "A newest snapshot older than this is critical, e.g. 26h, 2d (default: the config's max_age, or 26h).", valueName: "span"))
    var maxAge: String?

    @Option(
        name: .long, help: ArgumentHelp("A last verification older than this is a warning, e.g. 8d (default: any age).", valueName: "span"))
    var maxVerifyAge: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Continuous capture (velo replicate) whose newest moment is older than this is critical, e.g. 5m (default: the config's continuous.max_lag, or 60s).",
            valueName: "span"))
    var maxLag: String?

    @Option(
        name: .long,
        help: ArgumentHelp("Also write the metrics in Prometheus's textfile format to this file, atomically.", valueName: "file"))
    var prometheus: String?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        for (option, value) in [("--max-age", maxAge), ("--max-verify-age", maxVerifyAge), ("--max-lag", maxLag)] {
            if let value, Interval.parse(value) == nil {
                throw ValidationError("\(option) \(value): expected a span such as 90s, 5m, 1h30m, 26h, 7d or 2w")
            }
        }
    }

    func run() throws {
        let settings = try config.map { try RunConfig.load(path: $0) }
        var options = BackupStatus.Options()
        if let settings {
            options.maxAge = settings.maxAge
            options.expectedSources = try settings.expectedSources()
        }
        if let maxAge { options.maxAge = try Interval.parse(maxAge, option: "--max-age") }
        options.maxVerifyAge = try maxVerifyAge.map { try Interval.parse($0, option: "--max-verify-age") }
        if let settings { options.maxLag = settings.maxLag }
        if let maxLag { options.maxLag = try Interval.parse(maxLag, option: "--max-lag") }
        let repo: Repository
        if repository.path == nil, let settings {
            let password = repository.passwordFile.map { PasswordSource.file($0) } ?? settings.password ?? repository.password
            repo = try Repository.open(settings.repository, access: RepositoryAccess(password: password))
        } else {
            repo = try repository.open()
        }
        let report = BackupStatus.evaluate(repo, options: options)
        if let prometheus { try PrometheusTextfile.write(report, to: prometheus) }
        if output.json {
            try Output.json(report)
        } else if !output.quiet || report.state != .ok {
            print(Self.render(report))
        }
        switch report.state {
        case .ok: return
        case .warning: throw ExitCode(ExitStatus.warning)
        case .critical: throw ExitCode(ExitStatus.critical)
        }
    }

    static func render(_ report: BackupStatus.Report) -> String {
        var rows: [[String]] = []
        for s in report.sources {
            let trend = s.sizeChangePercent.map { String(format: "%+.1f%%", $0) } ?? "-"
            let verified = s.lastVerification.map { "\(String($0.time.prefix(10))) \($0.ok ? "ok" : "FAILED")" } ?? "never"
            rows.append([
                s.state.rawValue.uppercased(), s.source, s.kind.isEmpty ? "-" : s.kind, Output.grouped(s.snapshots),
                s.latest.map { String($0.time.dropLast()).replacingOccurrences(of: "T", with: " ") } ?? "-",
                s.latest.map { age($0.ageSeconds) } ?? "-", s.latest.map { Output.bytes($0.bytes) } ?? "-", trend, verified,
            ])
        }
        var lines = [Output.table(["STATE", "SOURCE", "KIND", "SNAPSHOTS", "NEWEST (UTC)", "AGE", "SIZE", "TREND", "VERIFIED"], rows)]
        for s in report.sources where !s.reasons.isEmpty {
            lines.append("\(s.state.rawValue): \(s.source): \(s.reasons.joined(separator: "; "))")
        }
        for damaged in report.damagedCatalogEntries { lines.append("critical: \(damaged)") }
        if !report.continuous.isEmpty {
            let rows = report.continuous.map { c -> [String] in
                let window = c.windows.last.map { "\(Self.moment($0.from)) to \(Self.moment($0.to))" } ?? "-"
                return [
                    c.state.rawValue.uppercased(), c.source, age(Int64(c.lagSeconds)), window, age(Int64(c.windowSeconds)),
                    c.openGap ? "\(c.gaps) (open)" : String(c.gaps),
                ]
            }
            lines.append(Output.table(["STATE", "CAPTURED SOURCE", "LAG", "RESTORABLE (UTC)", "WINDOW", "GAPS"], rows))
            for c in report.continuous where !c.reasons.isEmpty {
                lines.append("\(c.state.rawValue): \(c.source): \(c.reasons.joined(separator: "; "))")
            }
        }
        if let error = report.continuousError { lines.append("critical: continuous capture: \(error)") }
        let counts = [BackupStatus.State.ok, .warning, .critical].map { state in (state, report.sources.filter { $0.state == state }.count)
        }
        let summary = counts.filter { $0.1 > 0 }.map { "\($0.1) \($0.0.rawValue)" }.joined(separator: ", ")
        let captured = report.continuous.isEmpty ? "" : "; \(report.continuous.count) captured continuously"
        lines.append(
            "\(report.state.rawValue.uppercased()): \(report.sources.count) source\(report.sources.count == 1 ? "" : "s")\(summary.isEmpty ? "" : " (\(summary))"), newest snapshot allowed \(Interval(seconds: report.maxAgeSeconds)) old\(captured)"
        )
        return lines.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// `2026-12-06T10:58:30.250Z` as `2026-12-06 10:58:30`.
    static func moment(_ iso: String) -> String { String(iso.prefix(19)).replacingOccurrences(of: "T", with: " ") }

    /// `4000` as `1h6m`: the two largest units.
    static func age(_ seconds: Int64) -> String {
        if seconds < 0 { return "future" }
        let text = Interval(seconds: seconds).description
        var units = 0
        var out = ""
        for ch in text {
            out.append(ch)
            if ch.isLetter { units += 1; if units == 2 { break } }
        }
        return out == "0s" ? "now" : out
    }
}
