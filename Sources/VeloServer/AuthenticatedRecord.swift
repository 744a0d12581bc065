/// Who a valid bearer token belongs to: a record of an auth collection (a superuser when its collection is
/// `superusers`, whose table Veloquent's `SuperuserOnly` middleware checks).
package struct AuthenticatedRecord: Sendable, Equatable {
    package var collectionID: String
    package var collectionName: String
    package var collectionTable: String
    package var recordID: String

    package var isSuperuser: Bool { collectionTable == "superusers" }
}
