import Testing

@testable import velo

@Suite struct TerminalProgressTests {
    @Test func aTotalGivesAPercentageAndTheTimeLeft() {
        let line = TerminalProgress.line(
            label: "backup", done: 250_000, total: 1_000_000, unit: "rows", detail: "_velo_posts", elapsed: 2.5)
        #expect(line == "backup: _velo_posts 250,000/1,000,000 rows (25%)  2s, about 8s left")
    }

    @Test func noTimeLeftWithoutATotalBeforeASecondOrPastAnEstimate() {
        #expect(
            TerminalProgress.line(label: "verify", done: 1_234, total: nil, unit: "rows", detail: "", elapsed: 5)
                == "verify: 1,234 rows  5s")
        #expect(
            TerminalProgress.line(label: "backup", done: 10, total: 100, unit: "rows", detail: "", elapsed: 0.4)
                == "backup: 10/100 rows (10%)  0s")
        // An estimate the rows outgrew: the percentage stops at 100 and no time left is guessed.
        #expect(
            TerminalProgress.line(label: "backup", done: 120, total: 100, unit: "rows", detail: "", elapsed: 3)
                == "backup: 120/100 rows (100%)  3s")
    }

}
