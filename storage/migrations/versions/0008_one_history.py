"""one history: merge the recognition (0003), ops (0005) and pulses/feedback/teamhealth (0007) branches

Five heads made `alembic upgrade head` fail and `downgrade -1` ambiguous. Two of the five (0002,
0004) were heads only because 0006 and 0007 named them in `depends_on`: Alembic keeps a dependency
an "effective head", and a merge revision over it fails (KeyError while updating alembic_version,
since 0007 has already taken 0002's row). 0006 and 0007 therefore name them as down revisions
instead (the same ancestors, so a database at any released state means what it meant), which leaves
three real heads, merged here. From here on the history is one line: each new revision has one
down revision.

No schema change.

Revision ID: 0008
Revises: 0003, 0005, 0007
Create Date: 2026-12-02
"""


revision = '0008'
down_revision = ('0003', '0005', '0007')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
