import DroverTestSupport

extension FleetFixture {
    /// Tenants acme (the canary wave) and globex, and a revision r3 whose expand fails
    /// in acme only: promoted to the tenants, the tier halts on the canary's budget.
    static func haltingOnAcme() async throws -> FleetFixture {
        let waves = "waves:\n  tenants:\n    - {name: canary, select: {names: [tenant-acme]}}\n    - {name: rest, select: {all: true}}\n"
        let brokenForAcme = [
            "0003_acme.sql": """
            -- drover:revision r3
            -- drover:parent r2
            -- drover:expand
            DO $$ BEGIN IF current_schema() = 'acme' THEN RAISE EXCEPTION 'acme is broken'; END IF; END $$;
            """
        ]
        return try await make(tenants: ["acme", "globex"], waves: waves, extraRevisions: brokenForAcme)
    }
}
