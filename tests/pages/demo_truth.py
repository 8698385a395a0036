"""The demo generator's own answers, to check the pages against."""
from tests.support.read_only import rows


def truth(db: str, sql: str, params=()):
    """The demo generator's own answer (demo_truth_mrr), read independently of the metrics."""
    return rows(db, sql, params)
