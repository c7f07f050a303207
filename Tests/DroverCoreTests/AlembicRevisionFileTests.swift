import DroverCore
import Testing

@Suite("Alembic revision files, read without Python")
struct AlembicRevisionFileTests {
    @Test("the classic template: docstring message, revision, down_revision, no phase means expand")
    func classic() throws {
        let text = """
            \"\"\"add status to documents

            Revision ID: 9f3a6c2e8b15
            Revises: 4b7e1d2c9a01
            Create Date: 2026-11-08 09:00:00.000000

            \"\"\"
            from alembic import op
            import sqlalchemy as sa

            # revision identifiers, used by Alembic.
            revision = '9f3a6c2e8b15'
            down_revision = '4b7e1d2c9a01'  # the parent
            branch_labels = None
            depends_on = None


            def upgrade():
                revision = 'not this one'
                op.add_column('documents', sa.Column('status', sa.Text()))
            """
        let file = try AlembicRevisionFile.parse(text, file: "versions/9f3a_add_status.py").get()
        #expect(file.id == "9f3a6c2e8b15" && file.parents == ["4b7e1d2c9a01"])
        #expect(file.message == "add status to documents" && file.phase == .expand)
        #expect(file.branchLabels.isEmpty && file.dependsOn.isEmpty)
        #expect(file.location == SourceLocation(file: "versions/9f3a_add_status.py", line: 12))
    }

    @Test("the typed template, a merge over several lines, branch labels, depends_on and drover_phase")
    func typedMergeAndPhase() throws {
        let text = """
            \"\"\"merge heads\"\"\"
            from typing import Sequence, Union

            revision: str = "c27d5e0f4a93"
            down_revision: Union[str, Sequence[str], None] = (
                "aaaa00000001",   # left
                "bbbb00000002",
            )
            branch_labels: Union[str, Sequence[str], None] = ("billing",)
            depends_on: Union[str, Sequence[str], None] = ["dddd00000004"]
            drover_phase = "contract"
            """
        let file = try AlembicRevisionFile.parse(text, file: "m.py").get()
        #expect(file.id == "c27d5e0f4a93")
        #expect(file.parents == ["aaaa00000001", "bbbb00000002"])
        #expect(file.branchLabels == ["billing"] && file.dependsOn == ["dddd00000004"])
        #expect(file.message == "merge heads" && file.phase == .contract)
    }

    @Test("a root revision (down_revision = None)")
    func root() throws {
        let file = try AlembicRevisionFile.parse("revision = 'r1'\ndown_revision = None\n", file: "r1.py").get()
        #expect(file.parents.isEmpty && file.message == "")
    }

    @Test(
        "errors name the file and line",
        arguments: [
            ("import os\n", "x.py:1", "not an Alembic revision file"),
            ("revision = 'r2'\ndown_revision = compute()\n", "x.py:2", "down_revision must be a string, None or a tuple of strings"),
            ("revision = 'r2'\ndrover_phase = 'backfill'\n", "x.py:2", "drover_phase must be \"expand\" or \"contract\""),
            ("revision = 'r2'\ndown_revision = ('a',\n", "x.py:2", "a bracket is never closed"),
            ("revision = ''\n", "x.py:1", "revision must be a non-empty string"),
        ])
    func errors(_ text: String, _ place: String, _ message: String) {
        guard case .failure(let diagnostic) = AlembicRevisionFile.parse(text, file: "x.py") else {
            Issue.record("parsed: \(text)")
            return
        }
        #expect(diagnostic.description.hasPrefix(place + ": error: "), "\(diagnostic)")
        #expect(diagnostic.message.contains(message), "\(diagnostic)")
    }
}
