import Testing

@testable import VeloFormat
@testable import VeloKit
@testable import VeloRepository
@testable import VeloStorage

@Suite struct NamingTests {
    @Test func shortIndexNamesAreTableColumnsAndType() {
        #expect(IndexSpec.physicalName(table: "_velo_users", columns: ["email"], kind: .unique) == "_velo_users_email_unique")
        #expect(
            IndexSpec(columns: ["published", "created_at"], kind: .index).physicalName(table: "_velo_posts")
                == "_velo_posts_published_created_at_index")
    }

    @Test func indexNamesOfExactly64BytesAreKept() {
        let table = "_velo_" + String(repeating: "t", count: 64 - "_velo__c_index".count)
        let name = IndexSpec.physicalName(table: table, columns: ["c"], kind: .index)
        #expect(name.utf8.count == 64)
        #expect(name == table + "_c_index")
    }

    @Test func longIndexNamesAreCutTo55BytesPlusAnMd5Suffix() {
        let table = "_velo_customer_support_conversations"
        let columns = ["organization_identifier", "assigned_agent_identifier"]
        let full = "_velo_customer_support_conversations_organization_identifier_assigned_agent_identifier_index"
        let name = IndexSpec.physicalName(table: table, columns: columns, kind: .index)
        #expect(name.utf8.count == 64)
        #expect(name.hasPrefix(String(full.prefix(55)) + "_"))
        // md5("<full>") computed independently: its first 8 hex digits.
        #expect(name.hasSuffix("_" + String(MD5Hex.of(full).prefix(8))))
        #expect(MD5Hex.of("") == "d41d8cd98f00b204e9800998ecf8427e")
    }

    @Test func pivotNamesSortTheTwoSidesAndStripThePrefix() {
        #expect(PivotTable.name("posts", "tags", field: "tag_list") == "_velo_posts_tags_tag_list_pivot")
        #expect(PivotTable.name("_velo_tags", "_velo_posts", field: "tag_list") == "_velo_posts_tags_tag_list_pivot")
        #expect(PivotTable.name("users", "users", field: "friends") == "_velo_users_users_friends_pivot")
    }

    @Test func longPivotNamesUsePvtAndTheMd5OfTheBareName() {
        let a = "customer_support_conversations", b = "knowledge_base_articles", field = "linked"
        let bare = "customer_support_conversations_knowledge_base_articles_linked_pivot"
        #expect(bare.utf8.count > 64)
        #expect(PivotTable.name(a, b, field: field) == "_velo_pvt_" + MD5Hex.of(bare))
        #expect(PivotTable.uniqueIndexName(pivot: "_velo_posts_tags_tags_pivot") == "idx_" + MD5Hex.of("_velo_posts_tags_tags_pivot_unq"))
    }

    @Test func fieldTypesMapToLaravelsSQLiteColumns() {
        #expect(FieldType(name: "text").sqliteColumnType == "varchar")
        #expect(FieldType(name: "relation").sqliteColumnType == "varchar")
        #expect(FieldType(name: "number").sqliteColumnType == "float")
        #expect(FieldType(name: "boolean").sqliteColumnType == "tinyint(1)")
        #expect(FieldType(name: "file").sqliteColumnType == "text")
        #expect(FieldType(name: "timestamp") == .datetime)
        #expect(FieldType(name: "relation_many").sqliteColumnType == nil)
        #expect(FieldType(name: "hologram") == .unknown("hologram"))
    }
}
