import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct AppEnvironmentTests {
    @Test func readsLaravelsDotenvForms() throws {
        let env = try AppEnvironment(
            parsing: """
                # a comment
                APP_NAME="My App"
                export DB_CONNECTION=sqlite
                DB_DATABASE=/srv/app/database/database.sqlite   # trailing comment
                EMPTY=
                SINGLE='literal ${APP_NAME} \\n'
                DOUBLE="line\\nnext \\"quoted\\" #not a comment"
                REF=${DB_CONNECTION}-x
                MULTI="first
                second"
                HASH=abc#def
                WINDOWS=crlf\r
                """)
        #expect(env["APP_NAME"] == "My App")
        #expect(env["DB_CONNECTION"] == "sqlite")
        #expect(env["DB_DATABASE"] == "/srv/app/database/database.sqlite")
        #expect(env["EMPTY"] == "")
        #expect(env["SINGLE"] == "literal ${APP_NAME} \\n")
        #expect(env["DOUBLE"] == "line\nnext \"quoted\" #not a comment")
        #expect(env["REF"] == "sqlite-x")
        #expect(env["MULTI"] == "first\nsecond")
        #expect(env["HASH"] == "abc#def")
        #expect(env["WINDOWS"] == "crlf")
        #expect(env["MISSING"] == nil)
    }

    @Test(arguments: [
        ("JUST TEXT", ":1: expected KEY=value"),
        ("1BAD=x", ":1: '1BAD' is not a variable name"),
        ("A=ok\nB=\"never closed", ":2: the \" quote is never closed"),
        ("A=two words", ":1: an unquoted value with spaces"),
        ("A=\"x\" y", ":1: unexpected text after the closing quote"),
    ])
    func refusesMalformedLinesNamingThem(text: String, message: String) {
        #expect {
            try AppEnvironment(parsing: text, file: "/app/.env")
        } throws: { error in
            "\(error)".hasPrefix("/app/.env") && "\(error)".contains(message)
        }
    }
}
