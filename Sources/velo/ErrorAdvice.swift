import VeloKit

/// How the CLI words a library failure: the library says what is wrong, which setting is at fault and what would
/// get past it (`VeloFailure.setting`, `.remedy`); the CLI names the flags and commands for them.
enum ErrorAdvice {
    /// The one line the CLI prints for `error`.
    static func message(for error: any Error) -> String {
        guard let failure = error as? VeloFailure else { return "\(error)" }
        var text = failure.description
        if let setting = failure.setting { text += " (\(flag(setting)))" }
        if let remedy = failure.remedy { text += "; " + words(for: remedy) }
        return text
    }

    /// `system_tables` → `--system-tables`.
    static func flag(_ setting: String) -> String { "--" + setting.replacingOccurrences(of: "_", with: "-") }

    static func words(for remedy: Remedy) -> String {
        switch remedy {
        case .waitLonger: return "try again, or raise --busy-timeout"
        case .nameRepositoryOrSkipSafetySnapshot: return "pass --repo, or --no-safety-snapshot"
        case .nameRepository: return "name a repository with --repo (or VELO_REPO), or give the path of an archive file"
        case .createRepository(let path): return "create one with 'velo init --repo \(path)'"
        case .replace: return "use --force to replace it"
        case .removeStaleLock(let repository): return "run 'velo unlock --repo \(repository)' to remove it"
        case .forceUnlock(let repository):
            return "remove it with 'velo unlock --repo \(repository) --force' only once sure no velo is running"
        case .restoreIntoTarget: return "restore it with --target"
        case .givePassword: return "give it with --password-file, VELO_PASSWORD_FILE or VELO_PASSWORD_COMMAND, or run velo on a terminal"
        case .switchToWAL: return "switch it once with 'velo replicate --set-wal' (Laravel works unchanged on WAL)"
        case .restoreIntoNewFile:
            return "restore into a new file with --target NEW.sqlite, then move it into place while the app is stopped"
        case .nameTheSource: return "name one with --source"
        }
    }
}
