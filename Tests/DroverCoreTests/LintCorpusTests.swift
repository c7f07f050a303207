import Testing

@testable import DroverCore

/// Cases written after what sbdchd/squawk's rule tests teach (crates/squawk_linter/
/// src/rules/*.rs): the same situations in drover's terms, in SQL of our own. A
/// squawk test wrapped in BEGIN … COMMIT (or run with assume-in-transaction) is a
/// transactional section here; one without is a `-- drover:no-transaction` section,
/// where every statement commits on its own. Each case is scored on the drover
/// rules that correspond to the squawk rule it comes from; the figure the test
/// prints is recall and precision over all of them.
struct LintCase: Sendable {
    var squawkRule: String
    var name: String
    var sql: String
    var noTransaction = false
    var phase: Phase = .expand
    var postgresVersion = 15
    /// The drover findings expected among the rules `squawkRule` maps to.
    var expected: Set<LintRule>
}

enum LintCorpus {
    /// squawk rule → the drover rules that cover it.
    static let mapping: [String: Set<LintRule>] = [
        "adding-field-with-default": [.volatileDefault],
        "adding-foreign-key-constraint": [.addConstraintWithoutNotValid, .addColumnReferences],
        "adding-not-nullable-field": [.setNotNull],
        "adding-serial-primary-key-field": [.addUniqueConstraintWithoutIndex],
        "adding-required-field": [.addColumnNotNullWithoutDefault],
        "ban-concurrent-index-creation-in-transaction": [.notInTransaction, .transactionControl],
        "ban-drop-column": [.dropColumn],
        "ban-drop-table": [.dropTable],
        "changing-column-type": [.alterColumnType],
        "constraint-missing-not-valid": [.addConstraintWithoutNotValid, .lockHeldThroughScan],
        "disallowed-unique-constraint": [.addUniqueConstraintWithoutIndex],
        "renaming-column": [.renameColumn],
        "renaming-table": [.renameTable],
        "require-concurrent-index-creation": [.createIndexWithoutConcurrently],
        // Rules drover gained from squawk's list.
        "require-concurrent-index-deletion": [.dropIndexWithoutConcurrently],
        "require-concurrent-reindex": [.reindexWithoutConcurrently],
        "require-concurrent-partition-detach": [.detachPartitionWithoutConcurrently],
        "ban-truncate-cascade": [.truncate],
        "ban-uncommitted-transaction": [.transactionControl],
        "identifier-too-long": [.identifierTooLong],
        "prefer-repack": [.vacuumFull],
    ]

    static let cases: [LintCase] = [
        // adding-field-with-default
        LintCase(
            squawkRule: "adding-field-with-default", name: "constant default on 11+", sql: "ALTER TABLE orders ADD COLUMN priority smallint DEFAULT 3;",
            expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "default set after adding",
            sql: "ALTER TABLE orders ADD COLUMN priority smallint;\nALTER TABLE orders ALTER COLUMN priority SET DEFAULT 3;", expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "volatile uuid default among other actions",
            sql: "ALTER TABLE orders SET LOGGED, ADD COLUMN ref uuid DEFAULT gen_random_uuid();", expected: [.volatileDefault]),
        LintCase(
            squawkRule: "adding-field-with-default", name: "random() default", sql: "ALTER TABLE orders ADD COLUMN lucky float8 DEFAULT random();",
            expected: [.volatileDefault]),
        LintCase(
            squawkRule: "adding-field-with-default", name: "boolean literal", sql: "ALTER TABLE orders ADD COLUMN paid boolean DEFAULT false;", expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "string literal", sql: "ALTER TABLE orders ADD COLUMN channel text DEFAULT 'web';", expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "enum literal", sql: "ALTER TABLE orders ADD COLUMN state order_state DEFAULT 'open';", expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "cast literal", sql: "ALTER TABLE orders ADD COLUMN extra jsonb DEFAULT '[]'::jsonb;", expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "unknown function", sql: "ALTER TABLE orders ADD COLUMN extra jsonb DEFAULT build_extra();",
            expected: [.volatileDefault]),
        LintCase(
            squawkRule: "adding-field-with-default", name: "stable function with an argument",
            sql: "ALTER TABLE orders ADD COLUMN seen timestamptz DEFAULT now(1);", expected: [.volatileDefault]),
        LintCase(squawkRule: "adding-field-with-default", name: "now()", sql: "ALTER TABLE orders ADD COLUMN seen timestamptz DEFAULT now();", expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "arithmetic on literals", sql: "ALTER TABLE orders ADD COLUMN weight int DEFAULT 40 + 2;",
            expected: []),
        LintCase(
            squawkRule: "adding-field-with-default", name: "stored generated column",
            sql: "ALTER TABLE orders\n  ADD COLUMN total numeric GENERATED ALWAYS AS (net + tax) STORED;", expected: [.volatileDefault]),
        LintCase(
            squawkRule: "adding-field-with-default", name: "any default before 11", sql: "ALTER TABLE orders ADD COLUMN priority smallint DEFAULT 3;",
            postgresVersion: 10, expected: [.volatileDefault]),

        // adding-foreign-key-constraint
        LintCase(
            squawkRule: "adding-foreign-key-constraint", name: "new table with a table constraint",
            sql:
                "CREATE TABLE receipts (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, order_id bigint,\n  CONSTRAINT receipts_order_fk FOREIGN KEY (order_id) REFERENCES orders (id));",
            expected: []),
        LintCase(
            squawkRule: "adding-foreign-key-constraint", name: "new table with a column reference",
            sql: "CREATE TABLE receipts (id bigserial, order_id int NOT NULL REFERENCES orders (id) ON DELETE CASCADE);", noTransaction: true, expected: []),
        LintCase(
            squawkRule: "adding-foreign-key-constraint", name: "constraint on a table created in the section",
            sql:
                "CREATE TABLE \"receipts\" (\"id\" uuid NOT NULL, \"order_id\" uuid NOT NULL);\nALTER TABLE \"receipts\" ADD CONSTRAINT \"receipts_order_fk\" FOREIGN KEY (\"order_id\") REFERENCES \"orders\" (\"id\");",
            expected: []),
        LintCase(
            squawkRule: "adding-foreign-key-constraint", name: "NOT VALID",
            sql:
                "ALTER TABLE payments ADD COLUMN order_id int;\nALTER TABLE payments ADD CONSTRAINT payments_order_fk FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID;",
            expected: []),
        LintCase(
            squawkRule: "adding-foreign-key-constraint", name: "validated at once",
            sql:
                "ALTER TABLE payments ADD COLUMN order_id int;\nALTER TABLE payments ADD CONSTRAINT payments_order_fk FOREIGN KEY (order_id) REFERENCES orders (id);",
            expected: [.addConstraintWithoutNotValid]),
        LintCase(
            squawkRule: "adding-foreign-key-constraint", name: "column with REFERENCES",
            sql: "ALTER TABLE payments ADD COLUMN order_id int REFERENCES orders (id);", expected: [.addColumnReferences]),

        // adding-not-nullable-field (set-not-null): version- and check-aware
        LintCase(
            squawkRule: "adding-not-nullable-field", name: "SET NOT NULL scans", sql: "ALTER TABLE \"accounts\" ALTER COLUMN \"region\" SET NOT NULL;",
            phase: .contract, expected: [.setNotNull]),
        LintCase(
            squawkRule: "adding-not-nullable-field", name: "NOT NULL with a default is no SET NOT NULL",
            sql: "ALTER TABLE accounts ADD COLUMN tier int DEFAULT 1 NOT NULL;\nALTER TABLE accounts ALTER COLUMN tier DROP DEFAULT;", expected: []),
        LintCase(
            squawkRule: "adding-not-nullable-field", name: "validated check first, 12+",
            sql:
                "ALTER TABLE accounts ADD CONSTRAINT accounts_region_nn CHECK (region IS NOT NULL) NOT VALID;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_region_nn;\nALTER TABLE accounts ALTER COLUMN region SET NOT NULL;\nALTER TABLE accounts DROP CONSTRAINT accounts_region_nn;",
            noTransaction: true, phase: .contract, expected: []),
        LintCase(
            squawkRule: "adding-not-nullable-field", name: "validated check first, but PostgreSQL 11",
            sql:
                "ALTER TABLE accounts ADD CONSTRAINT accounts_region_nn CHECK (region IS NOT NULL) NOT VALID;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_region_nn;\nALTER TABLE accounts ALTER COLUMN region SET NOT NULL;",
            noTransaction: true, phase: .contract, postgresVersion: 11, expected: [.setNotNull]),
        LintCase(
            squawkRule: "adding-not-nullable-field", name: "check not validated",
            sql:
                "ALTER TABLE accounts ADD CONSTRAINT accounts_region_nn CHECK (region IS NOT NULL) NOT VALID;\nALTER TABLE accounts ALTER COLUMN region SET NOT NULL;",
            noTransaction: true, phase: .contract, expected: [.setNotNull]),
        LintCase(
            squawkRule: "adding-not-nullable-field", name: "check validated for another column",
            sql:
                "ALTER TABLE accounts ADD CONSTRAINT accounts_owner_nn CHECK (owner IS NOT NULL) NOT VALID;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_owner_nn;\nALTER TABLE accounts ALTER COLUMN region SET NOT NULL;",
            noTransaction: true, phase: .contract, expected: [.setNotNull]),
        LintCase(
            squawkRule: "adding-not-nullable-field", name: "another constraint validated",
            sql:
                "ALTER TABLE accounts ADD CONSTRAINT accounts_region_nn CHECK (region IS NOT NULL) NOT VALID;\nALTER TABLE accounts VALIDATE CONSTRAINT accounts_other;\nALTER TABLE accounts ALTER COLUMN region SET NOT NULL;",
            noTransaction: true, phase: .contract, expected: [.setNotNull]),

        // adding-serial-primary-key-field
        LintCase(
            squawkRule: "adding-serial-primary-key-field", name: "serial primary key column", sql: "ALTER TABLE events ADD COLUMN id serial PRIMARY KEY;",
            expected: [.addUniqueConstraintWithoutIndex]),
        LintCase(
            squawkRule: "adding-serial-primary-key-field", name: "primary key constraint", sql: "ALTER TABLE events ADD PRIMARY KEY (id);",
            expected: [.addUniqueConstraintWithoutIndex]),
        LintCase(
            squawkRule: "adding-serial-primary-key-field", name: "primary key using an index",
            sql: "ALTER TABLE events ADD CONSTRAINT events_pk PRIMARY KEY USING INDEX events_id_idx;", expected: []),

        // adding-required-field
        LintCase(squawkRule: "adding-required-field", name: "nullable column", sql: "ALTER TABLE invoices ADD COLUMN memo text;", expected: []),
        LintCase(
            squawkRule: "adding-required-field", name: "NOT NULL with a default", sql: "ALTER TABLE invoices ADD COLUMN memo text NOT NULL DEFAULT '';",
            expected: []),
        LintCase(
            squawkRule: "adding-required-field", name: "NOT NULL without a default", sql: "ALTER TABLE invoices ADD COLUMN memo text NOT NULL;",
            expected: [.addColumnNotNullWithoutDefault]),
        LintCase(
            squawkRule: "adding-required-field", name: "generated NOT NULL",
            sql: "ALTER TABLE invoices ADD COLUMN gross numeric NOT NULL GENERATED ALWAYS AS (net * 2) STORED;", expected: []),

        // ban-concurrent-index-creation-in-transaction
        LintCase(
            squawkRule: "ban-concurrent-index-creation-in-transaction", name: "CIC in a transactional section",
            sql: "ALTER TABLE visits ADD COLUMN path text;\nCREATE INDEX CONCURRENTLY visits_path_idx ON visits (path);", expected: [.notInTransaction]),
        LintCase(
            squawkRule: "ban-concurrent-index-creation-in-transaction", name: "CIC alone, no-transaction",
            sql: "CREATE INDEX CONCURRENTLY visits_path_idx ON visits (path);", noTransaction: true, expected: []),
        LintCase(
            squawkRule: "ban-concurrent-index-creation-in-transaction", name: "CIC between BEGIN and COMMIT of a no-transaction section",
            sql: "BEGIN;\nCREATE INDEX CONCURRENTLY visits_path_idx ON visits (path);\nCOMMIT;", noTransaction: true, expected: [.transactionControl]),
        LintCase(
            squawkRule: "ban-concurrent-index-creation-in-transaction", name: "two CICs, no-transaction",
            sql: "CREATE UNIQUE INDEX CONCURRENTLY visits_a ON visits (a);\nCREATE INDEX CONCURRENTLY visits_b ON visits (b);", noTransaction: true,
            expected: []),

        // ban-drop-column, ban-drop-table
        LintCase(
            squawkRule: "ban-drop-column", name: "drop column in expand", sql: "ALTER TABLE \"profiles\" DROP COLUMN \"nickname\" CASCADE;",
            expected: [.dropColumn]),
        LintCase(
            squawkRule: "ban-drop-column", name: "drop column in contract is its purpose", sql: "ALTER TABLE profiles DROP COLUMN nickname;", phase: .contract,
            expected: []),
        LintCase(squawkRule: "ban-drop-column", name: "drop a constraint", sql: "ALTER TABLE profiles DROP CONSTRAINT profiles_nickname_check;", expected: []),
        LintCase(squawkRule: "ban-drop-table", name: "drop table", sql: "DROP TABLE \"legacy_sessions\";", expected: [.dropTable]),
        LintCase(squawkRule: "ban-drop-table", name: "drop table if exists", sql: "DROP TABLE IF EXISTS legacy_sessions;", expected: [.dropTable]),
        LintCase(squawkRule: "ban-drop-table", name: "drop several tables", sql: "DROP TABLE IF EXISTS a_old, b_old CASCADE;", expected: [.dropTable]),
        LintCase(squawkRule: "ban-drop-table", name: "drop in contract", sql: "DROP TABLE legacy_sessions;", phase: .contract, expected: []),

        // changing-column-type
        LintCase(
            squawkRule: "changing-column-type", name: "type change", sql: "ALTER TABLE \"metrics\" ALTER COLUMN \"value\" TYPE numeric;",
            expected: [.alterColumnType]),
        LintCase(
            squawkRule: "changing-column-type", name: "two type changes",
            sql: "ALTER TABLE metrics ALTER COLUMN value SET DATA TYPE numeric, ALTER COLUMN unit TYPE varchar(32);", expected: [.alterColumnType]),
        LintCase(
            squawkRule: "changing-column-type", name: "set default is no type change", sql: "ALTER TABLE metrics ALTER COLUMN unit SET DEFAULT 'ms';",
            expected: []),

        // constraint-missing-not-valid
        LintCase(
            squawkRule: "constraint-missing-not-valid", name: "NOT VALID then VALIDATE in one transaction",
            sql:
                "ALTER TABLE \"mails\" ADD CONSTRAINT \"mails_user_fk\" FOREIGN KEY (user_id) REFERENCES \"users\" (id) NOT VALID;\nALTER TABLE \"mails\" VALIDATE CONSTRAINT \"mails_user_fk\";",
            expected: [.lockHeldThroughScan]),
        LintCase(
            squawkRule: "constraint-missing-not-valid", name: "NOT VALID then VALIDATE, no-transaction",
            sql:
                "ALTER TABLE mails ADD CONSTRAINT mails_user_fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID;\nALTER TABLE mails VALIDATE CONSTRAINT mails_user_fk;",
            noTransaction: true, expected: []),
        LintCase(
            squawkRule: "constraint-missing-not-valid", name: "foreign key validated at once",
            sql: "ALTER TABLE shipments ADD CONSTRAINT shipments_addr_fk FOREIGN KEY (addr) REFERENCES addresses (addr);", noTransaction: true,
            expected: [.addConstraintWithoutNotValid]),
        LintCase(
            squawkRule: "constraint-missing-not-valid", name: "check validated at once",
            sql: "ALTER TABLE \"wallets\" ADD CONSTRAINT \"wallets_non_negative\" CHECK (\"balance\" >= 0);", expected: [.addConstraintWithoutNotValid]),
        LintCase(
            squawkRule: "constraint-missing-not-valid", name: "check NOT VALID, validated apart",
            sql:
                "ALTER TABLE wallets ADD CONSTRAINT wallets_non_negative CHECK (balance >= 0) NOT VALID;\nALTER TABLE wallets VALIDATE CONSTRAINT wallets_non_negative;",
            noTransaction: true, expected: []),
        LintCase(
            squawkRule: "constraint-missing-not-valid", name: "check on a table created in the section",
            sql:
                "CREATE TABLE \"members\" (\"id\" serial NOT NULL PRIMARY KEY, \"age\" integer NOT NULL);\nALTER TABLE \"members\" ADD CONSTRAINT \"members_adult\" CHECK (\"age\" >= 18);",
            expected: []),
        LintCase(
            squawkRule: "constraint-missing-not-valid",
            name: "NOT VALID then VALIDATE on a table created in the section, after a lock on another (a generated migration)",
            sql:
                "ALTER TABLE threads DROP CONSTRAINT threads_pkey;\nCREATE TABLE replies (id int, thread_id int);\nALTER TABLE replies ADD CONSTRAINT replies_thread_fk FOREIGN KEY (thread_id) REFERENCES threads (id) NOT VALID;\nALTER TABLE replies VALIDATE CONSTRAINT replies_thread_fk;",
            expected: []),
        LintCase(
            squawkRule: "constraint-missing-not-valid", name: "unique using an index",
            sql: "ALTER TABLE mails ADD CONSTRAINT mails_address_key UNIQUE USING INDEX mails_address_idx;", expected: []),

        // disallowed-unique-constraint
        LintCase(
            squawkRule: "disallowed-unique-constraint", name: "unique constraint", sql: "ALTER TABLE coupons ADD CONSTRAINT coupons_code_key UNIQUE (code);",
            expected: [.addUniqueConstraintWithoutIndex]),
        LintCase(
            squawkRule: "disallowed-unique-constraint", name: "drop a constraint", sql: "ALTER TABLE coupons DROP CONSTRAINT coupons_code_key;", expected: []),
        LintCase(
            squawkRule: "disallowed-unique-constraint", name: "index first, then USING INDEX",
            sql:
                "CREATE UNIQUE INDEX CONCURRENTLY coupons_code_idx ON coupons (code);\nALTER TABLE coupons DROP CONSTRAINT coupons_pkey,\n  ADD CONSTRAINT coupons_pkey PRIMARY KEY USING INDEX coupons_code_idx;",
            noTransaction: true, expected: []),
        LintCase(
            squawkRule: "disallowed-unique-constraint", name: "table created in the section",
            sql:
                "CREATE TABLE skus (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code text NOT NULL);\nALTER TABLE skus ADD CONSTRAINT skus_code_key UNIQUE (code);",
            expected: []),
        LintCase(
            squawkRule: "disallowed-unique-constraint", name: "named unique on a new column",
            sql: "ALTER TABLE coupons ADD COLUMN slug text CONSTRAINT coupons_slug_key UNIQUE;", expected: [.addUniqueConstraintWithoutIndex]),
        LintCase(
            squawkRule: "disallowed-unique-constraint", name: "unique on a new column", sql: "ALTER TABLE coupons ADD COLUMN slug text UNIQUE;",
            expected: [.addUniqueConstraintWithoutIndex]),

        // renaming-column, renaming-table
        LintCase(
            squawkRule: "renaming-column", name: "rename column", sql: "ALTER TABLE \"posts\" RENAME COLUMN \"body\" TO \"content\";", expected: [.renameColumn]
        ),
        LintCase(squawkRule: "renaming-column", name: "rename a constraint", sql: "ALTER TABLE posts RENAME CONSTRAINT posts_a TO posts_b;", expected: []),
        LintCase(squawkRule: "renaming-table", name: "rename table", sql: "ALTER TABLE \"posts\" RENAME TO \"articles\";", expected: [.renameTable]),
        LintCase(
            squawkRule: "renaming-table", name: "rename a table created in the section",
            sql: "CREATE TABLE drafts (id int);\nALTER TABLE drafts RENAME TO drafts_v2;", expected: []),

        // require-concurrent-index-creation
        LintCase(
            squawkRule: "require-concurrent-index-creation", name: "index without CONCURRENTLY",
            sql: "CREATE INDEX \"comments_author_idx\" ON \"comments\" (\"author\");", expected: [.createIndexWithoutConcurrently]),
        LintCase(
            squawkRule: "require-concurrent-index-creation", name: "unnamed index", sql: "CREATE INDEX ON comments (author);",
            expected: [.createIndexWithoutConcurrently]),
        LintCase(
            squawkRule: "require-concurrent-index-creation", name: "CONCURRENTLY",
            sql: "CREATE INDEX CONCURRENTLY \"comments_author_idx\" ON \"comments\" (\"author\");", noTransaction: true, expected: []),
        LintCase(
            squawkRule: "require-concurrent-index-creation", name: "index of a table created in the section",
            sql:
                "CREATE TABLE \"likes\" (\"id\" serial NOT NULL PRIMARY KEY, \"user_id\" integer NULL);\nCREATE INDEX \"likes_user_idx\" ON \"likes\" (\"user_id\");",
            expected: []),

        // Rules drover took from squawk's list.
        LintCase(
            squawkRule: "require-concurrent-index-deletion", name: "drop index", sql: "DROP INDEX IF EXISTS comments_author_idx;",
            expected: [.dropIndexWithoutConcurrently]),
        LintCase(
            squawkRule: "require-concurrent-index-deletion", name: "drop index concurrently", sql: "DROP INDEX CONCURRENTLY IF EXISTS comments_author_idx;",
            noTransaction: true, expected: []),
        LintCase(
            squawkRule: "require-concurrent-reindex", name: "reindex", sql: "REINDEX INDEX comments_author_idx;", phase: .contract,
            expected: [.reindexWithoutConcurrently]),
        LintCase(
            squawkRule: "require-concurrent-reindex", name: "reindex concurrently", sql: "REINDEX INDEX CONCURRENTLY comments_author_idx;", noTransaction: true,
            phase: .contract, expected: []),
        LintCase(
            squawkRule: "require-concurrent-reindex", name: "reindex before 12", sql: "REINDEX TABLE comments;", phase: .contract, postgresVersion: 11,
            expected: []),
        LintCase(
            squawkRule: "require-concurrent-partition-detach", name: "detach", sql: "ALTER TABLE measurements DETACH PARTITION measurements_2019;",
            phase: .contract, expected: [.detachPartitionWithoutConcurrently]),
        LintCase(
            squawkRule: "require-concurrent-partition-detach", name: "detach concurrently",
            sql: "ALTER TABLE measurements DETACH PARTITION measurements_2019 CONCURRENTLY;", noTransaction: true, phase: .contract, expected: []),
        LintCase(
            squawkRule: "require-concurrent-partition-detach", name: "detach before 14", sql: "ALTER TABLE measurements DETACH PARTITION measurements_2019;",
            phase: .contract, postgresVersion: 13, expected: []),
        LintCase(squawkRule: "ban-truncate-cascade", name: "truncate cascade", sql: "TRUNCATE orders CASCADE;", phase: .contract, expected: [.truncate]),
        LintCase(
            squawkRule: "ban-truncate-cascade", name: "truncate a table created in the section", sql: "CREATE TABLE scratch (id int);\nTRUNCATE scratch;",
            expected: []),
        LintCase(
            squawkRule: "ban-uncommitted-transaction", name: "BEGIN without COMMIT", sql: "BEGIN;\nALTER TABLE orders ADD COLUMN note text;",
            expected: [.transactionControl]),
        LintCase(
            squawkRule: "ban-uncommitted-transaction", name: "savepoints are fine",
            sql: "SAVEPOINT before_note;\nALTER TABLE orders ADD COLUMN note text;\nRELEASE SAVEPOINT before_note;", expected: []),
        LintCase(
            squawkRule: "identifier-too-long", name: "64-byte index name",
            sql: "CREATE INDEX CONCURRENTLY orders_customer_region_created_at_status_priority_channel_indexx ON orders (customer);", noTransaction: true,
            expected: [.identifierTooLong]),
        LintCase(
            squawkRule: "identifier-too-long", name: "63-byte name",
            sql: "CREATE INDEX CONCURRENTLY orders_customer_region_created_at_status_priority_channel_index ON orders (customer);", noTransaction: true,
            expected: []),
        LintCase(squawkRule: "prefer-repack", name: "vacuum full", sql: "VACUUM FULL orders;", noTransaction: true, phase: .contract, expected: [.vacuumFull]),
        LintCase(squawkRule: "prefer-repack", name: "cluster", sql: "CLUSTER orders USING orders_pkey;", phase: .contract, expected: [.vacuumFull]),
        LintCase(squawkRule: "prefer-repack", name: "plain vacuum", sql: "VACUUM (ANALYZE) orders;", noTransaction: true, phase: .contract, expected: []),
    ]
}

@Suite("Lint against squawk's cases")
struct LintCorpusTests {
    @Test("every case: the expected findings among the rules it is scored on", arguments: LintCorpus.cases.indices)
    func eachCase(_ index: Int) {
        let testCase = LintCorpus.cases[index]
        let considered = LintCorpus.mapping[testCase.squawkRule]!
        let found = LintHarness.rules(testCase.sql, phase: testCase.phase, noTransaction: testCase.noTransaction, postgresVersion: testCase.postgresVersion)
        #expect(found.intersection(considered) == testCase.expected, "\(testCase.squawkRule): \(testCase.name): found \(found)")
    }

    /// The squawk rules drover had before it took more from squawk's list.
    static let sharedBefore: Set<String> = [
        "adding-field-with-default", "adding-foreign-key-constraint", "adding-not-nullable-field", "adding-serial-primary-key-field",
        "adding-required-field", "ban-concurrent-index-creation-in-transaction", "ban-drop-column", "ban-drop-table",
        "changing-column-type", "constraint-missing-not-valid", "disallowed-unique-constraint", "renaming-column", "renaming-table",
        "require-concurrent-index-creation",
    ]

    @Test("recall and precision over the rules drover shares with squawk are at least 95 %", arguments: ["shared before", "all"])
    func recallAndPrecision(_ scope: String) {
        var truePositives = 0, falsePositives = 0, falseNegatives = 0
        let cases = LintCorpus.cases.filter { scope == "all" || Self.sharedBefore.contains($0.squawkRule) }
        for testCase in cases {
            let considered = LintCorpus.mapping[testCase.squawkRule]!
            let found = LintHarness.rules(testCase.sql, phase: testCase.phase, noTransaction: testCase.noTransaction, postgresVersion: testCase.postgresVersion)
                .intersection(considered)
            truePositives += found.intersection(testCase.expected).count
            falsePositives += found.subtracting(testCase.expected).count
            falseNegatives += testCase.expected.subtracting(found).count
        }
        let recall = Double(truePositives) / Double(truePositives + falseNegatives)
        let precision = Double(truePositives) / Double(max(truePositives + falsePositives, 1))
        print(
            "lint corpus (\(scope)): \(cases.count) cases after squawk's \(Set(cases.map(\.squawkRule)).count) rules: recall \(Int((recall * 100).rounded())) %, precision \(Int((precision * 100).rounded())) % (\(truePositives) found, \(falseNegatives) missed, \(falsePositives) false)"
        )
        #expect(recall >= 0.95 && precision >= 0.95)
    }
}
