import stripe

from etl.stripe_version import API_VERSION, LIBRARY_VERSION


def test_versions_read_without_importing_stripe_match_the_library():
    assert API_VERSION == stripe.api_version
    assert LIBRARY_VERSION == stripe.VERSION
