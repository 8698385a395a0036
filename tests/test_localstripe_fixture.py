def test_localstripe_accepts_writes_over_http(localstripe_client):
    customer = localstripe_client.v1.customers.create({"email": "a@example.com"})
    listed = localstripe_client.v1.customers.list()
    assert [c.id for c in listed.data] == [customer.id]
