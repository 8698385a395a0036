"""Reading a DuckDB file the way an outsider would: read-only, closed again straight after."""
import duckdb


def rows(db: str, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(db, read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()
