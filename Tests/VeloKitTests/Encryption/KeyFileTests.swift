import Foundation
import Testing

@testable import VeloFormat
@testable import VeloRepository
@testable import VeloStorage

/// Key files: the master key wrapped under a password with scrypt; a wrong password opens nothing, and an edited
/// key file is damage, not a wrong password.
@Suite struct KeyFileTests {
    /// Fast parameters: the tests check the wrapping, not the cost.
    static let quick = ScryptParameters(n: 1 << 10, r: 8, p: 1)

    @Test func theRightPasswordUnwrapsTheMasterKeyAndAWrongOneNothing() throws {
        let keys = RepositoryKeys.generate()
        let file = try KeyFile.make(
            keys, password: Array("s3cret".utf8), repository: "0123456789abcdef", parameters: Self.quick, host: "h", user: "u")
        let parsed = try KeyFile.parse(file.bytes, describe: "keys/x.json")
        #expect(parsed == file)
        #expect(try parsed.unwrap(Array("s3cret".utf8))?.fingerprint == keys.fingerprint)
        #expect(try parsed.unwrap(Array("s3cret ".utf8)) == nil)
        #expect(!String(decoding: file.bytes, as: UTF8.self).contains("s3cret"))
    }

    @Test func anEditedKeyFileIsDamageNamingIt() throws {
        let file = try KeyFile.make(
            .generate(), password: Array("pw".utf8), repository: "0123456789abcdef", parameters: Self.quick, host: "h", user: "u")
        let text = String(decoding: file.bytes, as: UTF8.self)
        for (from, to) in [("\"p\": 1", "\"p\": 2"), ("\"host\": \"h\"", "\"host\": \"x\""), ("velo-key", "velo-kex")] {
            let edited = Array(text.replacingOccurrences(of: from, with: to).utf8)
            #expect(edited != file.bytes)
            do {
                _ = try KeyFile.parse(edited, describe: "keys/x.json")
                Issue.record("\(to): accepted")
            } catch let error as VeloError {
                #expect(error.kind == .damaged && error.message.hasPrefix("keys/x.json: "), "\(error.message)")
            }
        }
        // Parameters beyond what velo derives with are refused before any derivation.
        var greedy = file
        for (n, r) in [(1 << 24, 8), (1 << 17, 8), (1 << 16, 16)] {
            greedy.scrypt = ScryptParameters(n: n, r: r, p: 1)
            #expect(throws: VeloError.self, "n \(n), r \(r)") { _ = try KeyFile.parse(greedy.bytes, describe: "keys/x.json") }
        }
        #expect(ScryptParameters(n: 1 << 16, r: 8, p: 64).isAccepted, "twice velo's own memory is accepted")
    }

    /// The calibration keeps scrypt's memory at 32 MiB and stays within its bounds.
    @Test func calibratedParametersStayWithinTheirMemory() {
        let parameters = ScryptParameters.calibrated(target: .milliseconds(50))
        #expect(parameters.isAccepted && parameters.r == 8 && parameters.memoryBytes <= 33 << 20)
    }
}
