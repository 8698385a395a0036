import duckdb
import pytest

from etl.demo import generate_database, generate_objects

SMALL = dict(customers=150, seed=7, months=30)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> str:
    path = str(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    generate_database(path, **SMALL)
    return path


@pytest.fixture
def demo_con(demo_db):
    con = duckdb.connect(demo_db, read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def demo_objects() -> list[dict]:
    return list(generate_objects(**SMALL))
