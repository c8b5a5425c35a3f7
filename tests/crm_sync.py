"""Tests' CRM: posts records to the sync API with a token, as a CRM integration would."""

import json

from revops.tokens import api_token_create


def sync_poster(client, object_name: str):
    """A function posting records to ``/api/v1/sync/<object_name>/``; it asserts 200 and returns the results."""
    _, raw = api_token_create(name="crm", scopes=["sync:write"])

    def post(*records) -> list[dict]:
        response = client.post(
            f"/api/v1/sync/{object_name}/",
            data=json.dumps({"records": list(records)}),
            content_type="application/json",
            secure=True,
            HTTP_AUTHORIZATION=f"Bearer {raw}",
        )
        assert response.status_code == 200, response.content
        return response.json()["results"]

    return post
