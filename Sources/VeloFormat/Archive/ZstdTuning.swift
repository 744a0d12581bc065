import CZstd

/// The compression parameters of velo's default level, shared by full archives and pack frames.
///
/// At level 3 (the default) velo does not take zstd's level-3 parameters (double-fast matching, 5-byte
/// matches, a 2 MiB window) but single-fast matching of at least 7 bytes in a 4 MiB window with a 2^17 hash
/// table. On velo's rows (JSON text) that compresses random-letter text 0.3% better and word text 1% worse, at
/// 1.2x (words) to 1.6x (random letters) the speed (`zstd -b`, one thread, over an archive's tar stream): a
/// backup spends about half its CPU time compressing, so this is what lets it beat `sqlite3 .dump | zstd -3 -T2`
/// on two cores at about the same archive size. Other levels are zstd's own.
package enum ZstdTuning {
    /// Sets `context`'s parameters for `level` (after the level itself is set).
    package static func apply(level: Int32, to context: OpaquePointer) throws {
        guard level == 3 else { return }
        for (parameter, value) in [
            (ZSTD_c_strategy, Int32(ZSTD_fast.rawValue)), (ZSTD_c_hashLog, 17), (ZSTD_c_minMatch, 7), (ZSTD_c_windowLog, 22),
        ] {
            let code = ZSTD_CCtx_setParameter(context, parameter, value)
            if ZSTD_isError(code) != 0 { throw VeloError("zstd: \(String(cString: ZSTD_getErrorName(code)))") }
        }
    }
}
