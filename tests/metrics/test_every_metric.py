"""Every registered metric runs on an empty account and on a small one, natively
and in a reporting currency, and keeps its declared money columns."""
import pytest

from etl.load import connect
from metrics import METRICS
from metrics.params import Params
from tests.metrics import scenario
from tests.metrics.builders import month

EXTRA = {"mrr_drilldown": {"month": "2024-03"}, "cohort_customers": {"cohort": "2024-01"},
         **{name: {"customer_id": "cus_C"} for name in METRICS if name.startswith("customer_")}}


@pytest.fixture(scope="module")
def small():
    return scenario.build().con


@pytest.mark.parametrize("name", sorted(METRICS))
def test_empty_account_gives_empty_frame_with_columns(name):
    df = METRICS[name].function(connect(":memory:"), Params(extra=EXTRA.get(name, {})))
    assert df.empty
    assert set(METRICS[name].money_columns) <= set(df.columns)


@pytest.mark.parametrize("currency", [None, "eur"])
@pytest.mark.parametrize("name", sorted(METRICS))
def test_small_account(small, name, currency):
    params = Params(start=month("2024-01"), end=month("2024-06"), currency=currency,
                    countries=("US",), extra=EXTRA.get(name, {}))
    df = METRICS[name].function(small, params)
    assert set(METRICS[name].money_columns) <= set(df.columns)
    if currency and "currency" in df.columns:
        assert set(df["currency"]) <= {"eur"}
