import DroverCore
import DroverTestSupport
import Testing

@testable import DroverRunner

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

        try await second.sql(
            "DROP INDEX documents_status_idx; ALTER TABLE documents ALTER COLUMN title DROP NOT NULL; ALTER TABLE owners ADD COLUMN note text;")
        snapshot = try await runner(revisions).fingerprint(second.session())
        #expect(snapshot.digest != reference.digest)
        #expect(
            snapshot.differences(from: reference) == [
                "column documents.title is nullable, expected NOT NULL",
                "index documents_status_idx missing",
                "column owners.note extra",
            ])
    }

    @Test("a database's phases on one connection plan the fingerprint query once")
    func plannedOnce() async throws {
        let revisions = try graph(
            shape + """

                -- drover:contract
                ALTER TABLE documents ALTER COLUMN status SET NOT NULL;
                """)
        let fixture = try await Fixture.make("fpp")
        let session = fixture.session()
        for phase in [Phase.expand, .contract] {
            let outcome = try await runner(revisions).run(step("222200000001", phase), on: session, fingerprint: true)
            #expect(outcome.snapshot?.tables["documents"] != nil)
        }
        // Reused across phases, the statement keeps its generic plan; a custom plan per
        // phase costs more server time than the query.
        let plans = try await session.connect().query(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE '%WITH r AS MATERIALIZED%'")
        #expect(plans.rows.count == 1)
        #expect(plans.rows.first?[1] == "0")
        #expect(plans.rows.first?[0] == "2")
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

private let tenantShape = """
    -- drover:revision 222200000002
    -- drover:parent none
    -- drover:expand
    CREATE TYPE mood AS ENUM ('ok', 'bad');
    CREATE TABLE documents (id serial PRIMARY KEY, title text NOT NULL CHECK (title <> ''), feeling mood DEFAULT 'ok');
    CREATE TABLE owners (id int PRIMARY KEY, document_id int REFERENCES documents (id));
    CREATE INDEX documents_title_idx ON documents (lower(title));
    """

@Suite("Schema fingerprints of schema tenants in one query")
struct TenantFingerprintTests {
    @Test("a batch gives each tenant the fingerprint it has alone, without its schema's name; a tenant that differs shows")
    func batch() async throws {
        let fixture = try await Fixture.make("fpb")
        let schemas = ["acme", "Globex Corp", "initech"]
        try await fixture.sql(schemas.map { "CREATE SCHEMA \"\($0)\";" }.joined())
        let revisions = try graph(tenantShape)
        var alone: [String: SchemaSnapshot] = [:]
        for schema in schemas {
            let session = fixture.session(schema: schema)
            _ = try await runner(revisions).run(step("222200000002", .expand), on: session)
            alone[schema] = try await runner(revisions).fingerprint(session)
        }
        try await fixture.sql("CREATE INDEX documents_feeling_idx ON initech.documents (feeling);")
        let sessions = schemas.map { fixture.session(schema: $0) }
        let batch = try await runner(revisions).fingerprints(ofTenants: sessions.map(\.target), on: sessions[0].connect())

        #expect(batch.count == 3)
        let acme = try #require(batch[sessions[0].target.name])
        #expect(acme == alone["acme"])
        #expect(batch[sessions[1].target.name] == acme)  // quoted schema name, same shape
        #expect(batch[sessions[2].target.name]?.differences(from: acme) == ["index documents_feeling_idx extra"])
        let documents = try #require(acme.tables["documents"])
        #expect(documents.columns.map(\.type) == ["integer", "text", "mood"])
        #expect(documents.columns[0].defaultValue == "nextval('documents_id_seq'::regclass)")
        #expect(documents.columns[2].defaultValue == "'ok'::mood")
        #expect(acme.tables["owners"]?.constraints["owners_document_id_fkey"] == "FOREIGN KEY (document_id) REFERENCES documents(id)")
        #expect(documents.indexes["documents_title_idx"] == "CREATE INDEX documents_title_idx ON documents USING btree (lower(title))")
    }

    @Test("a digest is the SHA-256 of the canonical text in lowercase hex (the digests stored by earlier versions stay comparable)")
    func digestText() {
        #expect(SchemaSnapshot(tables: [:]).digest == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let table = SchemaSnapshot.Table(name: "t", columns: [], indexes: [:], constraints: [:])
        // `printf "table t" | sha256sum`
        #expect(SchemaSnapshot(tables: ["t": table]).digest == "cb6aaa1ac29025137e84e6259e9d6ac9084394afd1127a0505e929c6509d8052")
    }

    @Test("only the tenant's own schema is taken off a name")
    func unqualified() {
        #expect(
            SchemaFingerprint.unqualified("nextval('acme.s'::regclass) + xacme.f() + other.acme.t", schema: "acme")
                == "nextval('s'::regclass) + xacme.f() + other.acme.t")
        #expect(SchemaFingerprint.unqualified("\"Acme Co\".t, acme.t", schema: "Acme Co") == "t, acme.t")
        #expect(SchemaFingerprint.unqualified("ñacme.t, (acme.t)", schema: "acme") == "ñacme.t, (t)", "a multi-byte letter is part of the name before")
    }
}
