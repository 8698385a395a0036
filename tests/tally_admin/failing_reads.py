"""Stripe reads that fail once a write went through: the admin action must still record success."""
import stripe


def fail_reads_after(client, monkeypatch, write_attr, read_attr):
    """Make `read_attr` raise a (non-retryable) Stripe error once `write_attr` has been called."""
    service_w, name_w = write_attr
    service_r, name_r = read_attr
    write, read, state = getattr(service_w, name_w), getattr(service_r, name_r), {"written": False}

    def written(*args, **kwargs):
        result = write(*args, **kwargs)
        state["written"] = True
        return result

    def maybe_fail(*args, **kwargs):
        if state["written"]:
            raise stripe.InvalidRequestError("boom", param=None, code="resource_missing",
                                              http_status=404)
        return read(*args, **kwargs)

    monkeypatch.setattr(service_w, name_w, written)
    monkeypatch.setattr(service_r, name_r, maybe_fail)
