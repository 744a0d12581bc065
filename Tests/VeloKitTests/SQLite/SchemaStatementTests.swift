import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct SchemaStatementTests {
    @Test func oneCreateOfTheObjectsOwnKindPasses() {
        #expect(SchemaStatement.problem("CREATE TABLE \"t\" (a TEXT DEFAULT 'x;y', b)", type: "table") == nil)
        #expect(SchemaStatement.problem("CREATE UNIQUE INDEX i ON t (a)", type: "index") == nil)
        #expect(SchemaStatement.problem("CREATE VIRTUAL TABLE f USING fts5(a)", type: "table") == nil)
        #expect(
            SchemaStatement.problem(
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET a = 1; DELETE FROM t WHERE 0; END", type: "trigger") == nil)
        #expect(SchemaStatement.problem("CREATE VIEW v AS SELECT 1", type: "view") == nil)
    }

    @Test func smuggledStatementsAndWrongKindsAreNamed() {
        #expect(SchemaStatement.problem("CREATE TABLE t (a); DELETE FROM superusers", type: "table") == "holds more than one statement")
        #expect(SchemaStatement.problem("CREATE TABLE t (a);; DROP TABLE x;", type: "table") == "holds more than one statement")
        #expect(SchemaStatement.problem("CREATE TABLE t (a) -- x\n; ATTACH 'x' AS y", type: "table") == "holds more than one statement")
        #expect(SchemaStatement.problem("DELETE FROM superusers", type: "table") == "is not a CREATE statement")
        #expect(
            SchemaStatement.problem("CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END", type: "table")
                == "is a table whose SQL does not create a table")
    }
}
