"""REST API for the exception queue: list, filter and act on items (``/api/v1/exceptions/``)."""
