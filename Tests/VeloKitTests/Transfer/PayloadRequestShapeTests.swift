import Foundation
import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

/// The request body's top-level shape, read without holding the body.
@Suite struct PayloadRequestShapeTests {
    func shape(_ text: String) throws -> [String]? {
        let path = Fixtures.temporaryDirectory().appendingPathComponent("body.json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return try PayloadRequestShape.members(path: path)?.map {
            "\($0.key):\($0.type)" + ($0.isEmpty ? " empty" : "") + ($0.text.map { "=\($0)" } ?? "")
        }
    }

    @Test func namesTheTypeOfEachMember() throws {
        #expect(
            try shape(#"{"payload":{"records":{"t":[{"id":"a"}]}},"conflict":"skip","n":1,"b":true,"z":null,"a":[1,[2]]}"#)
                == ["payload:object", "conflict:string=skip", "n:number", "b:boolean", "z:null", "a:array"])
        // Laravel's `required` fails on an empty object or array: the shape says which are empty.
        #expect(
            try shape(#"{"payload":{},"p":[],"q":[{}],"r":{"k":[]},"s":" "}"#) == [
                "payload:object empty", "p:array empty", "q:array", "r:object", "s:string= ",
            ])
        #expect(try shape("[1, 2]") == nil)
        #expect(try shape("{}") == [])
    }

    @Test func badJSONIsAnErrorNamingThePlace() throws {
        #expect(throws: VeloError.self) { try shape(#"{"payload": {"a": }"#) }
        #expect(throws: VeloError.self) { try shape(#"{"payload": {"a": 1}"#) }
        #expect(throws: VeloError.self) { try shape(#"{"payload""#) }
    }
}
