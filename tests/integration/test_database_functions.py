"""The plpgsql functions in the database after `upgrade head` are exactly those in `coins/coins/sql/`.

The `.sql` files are where a reader finds the current coin functions; the migrations keep frozen copies of
each version they created.  If a migration changes a function and the file is not updated (or the other way
round), this fails, so the two can never drift apart silently.
"""

from __future__ import annotations

import re
from importlib import resources

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

BODY = re.compile(r"\$\$(.*)\$\$", re.DOTALL)


def functions_in_files() -> dict[str, str]:
    folder = resources.files("coins.coins") / "sql"
    bodies: dict[str, str] = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found = BODY.search(entry.read_text(encoding="utf-8"))
            assert found is not None, f"{entry.name}: no $$-quoted function body"
            bodies[entry.name.removesuffix(".sql")] = found.group(1)
    return bodies


async def functions_in_database(engine: AsyncEngine) -> dict[str, str]:
    # Our own functions only: those in the public schema that no extension (pg_trgm) owns.
    query = text(
        """
        SELECT p.proname, p.prosrc
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public'
          AND NOT EXISTS (
              SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
          )
        """
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return {str(name): str(source) for name, source in rows}


async def test_the_database_has_exactly_the_functions_of_the_sql_folder(db_engine: AsyncEngine) -> None:
    in_files = functions_in_files()
    in_database = await functions_in_database(db_engine)

    assert set(in_files) == {"coin_ledger_append_only", "coin_member_apply", "coin_member_move"}
    assert set(in_database) == set(in_files)
    for name, body in in_files.items():
        # Compared line by line without indentation and blank lines: migrations indent their frozen copies
        # inside Python strings, and whitespace between statements is not behaviour.
        def normalised(source: str) -> list[str]:
            return [line.strip() for line in source.splitlines() if line.strip()]

        assert normalised(in_database[name]) == normalised(body), f"{name}: the database differs from sql/{name}.sql"
