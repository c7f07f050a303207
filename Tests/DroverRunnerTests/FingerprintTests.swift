import DroverCore
import DroverRunner
import DroverTestSupport
import Testing

private let shape = """
    -- drover:revision 222200000001
    -- drover:parent none
    -- drover:expand
    CREATE TABLE documents (id int PRIMARY KEY, title text NOT NULL, status text DEFAULT 'draft');
    CREATE TABLE owners (id int PRIMARY KEY, document_id int REFERENCES documents (id));
    CREATE INDEX documents_status_idx ON documents (status);
    """

@Suite("Schema fingerprints")
struct FingerprintTests {
    @Test("databases at the same revision have equal fingerprints; drift is described")
    func drift() async throws {
        let revisions = try graph(shape)
        let first = try await Fixture.make("fp")
        let second = try await Fixture.make("fp")
        for fixture in [first, second] {
            _ = try await runner(revisions).run(step("222200000001", .expand), on: fixture.session())
        }
        let reference = try await runner(revisions).fingerprint(first.session())
        var snapshot = try await runner(revisions).fingerprint(second.session())
        #expect(snapshot.digest == reference.digest)
        #expect(reference.tables.keys.sorted() == ["documents", "owners"])  // the tracking schema is not part of it
        #expect(reference.tables["documents"]?.columns.map(\.name) == ["id", "title", "status"])

        try await second.sql("DROP INDEX documents_status_idx; ALTER TABLE documents ALTER COLUMN title DROP NOT NULL; ALTER TABLE owners ADD COLUMN note text;")
        snapshot = try await runner(revisions).fingerprint(second.session())
        #expect(snapshot.digest != reference.digest)
        #expect(snapshot.differences(from: reference) == [
            "column documents.title is nullable, expected NOT NULL",
            "index documents_status_idx missing",
            "column owners.note extra",
        ])
    }

    @Test("schema tenants compare equal across schemas")
    func tenants() async throws {
        let fixture = try await Fixture.make("fpt")
        try await fixture.sql("CREATE SCHEMA acme; CREATE SCHEMA globex;")
        let revisions = try graph(shape)
        var snapshots: [SchemaSnapshot] = []
        for schema in ["acme", "globex"] {
            let session = fixture.session(schema: schema)
            _ = try await runner(revisions).run(step("222200000001", .expand), on: session)
            snapshots.append(try await runner(revisions).fingerprint(session))
        }
        #expect(snapshots[0] == snapshots[1])
        #expect(snapshots[0].tables["documents"]?.indexes["documents_status_idx"] == "CREATE INDEX documents_status_idx ON documents USING btree (status)")
    }
}
