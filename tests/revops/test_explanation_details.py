"""A run's explanation reads for people: conditions and kind details in the list, internal keys (the kind's
code, a policy's key, ids, the sentence already shown as the summary) only behind a "Details" toggle."""

from revops.engine.admin.explain import explanation_html, explanation_rows

EXPLANATION = {
    "matched": True,
    "conditions": {"all": [{"field": "opportunity.forecast_category", "op": "eq", "value": "commit", "result": True}]},
    "kind": "forecast_hygiene",
    "policy": "close_date_pushed",
    "text": "Close date moved later twice this quarter.",
    "pool": "DACH inbound",
    "owner_id": 2,
}


def test_internal_keys_are_details_and_the_rest_stays_in_the_list():
    rows = {row["text"]: row["detail"] for row in explanation_rows(EXPLANATION)}
    assert rows["Pool: DACH inbound"] is False
    assert rows["Kind: forecast_hygiene"] is True
    assert rows["Policy: close_date_pushed"] is True
    assert rows["Owner id: 2"] is True
    assert rows["Text: Close date moved later twice this quarter."] is True


def test_the_details_render_behind_a_toggle_after_the_list():
    html = str(explanation_html(EXPLANATION))
    listed, _, details = html.partition("<details")
    assert "Pool: DACH inbound" in listed and "Kind: forecast_hygiene" not in listed
    assert "<summary>Details</summary>" in details and "Kind: forecast_hygiene" in details
    assert "Owner id: 2" in details


def test_an_explanation_without_internal_keys_has_no_toggle():
    html = str(explanation_html({"conditions": EXPLANATION["conditions"], "pool": "DACH inbound"}))
    assert "<details" not in html and "Pool: DACH inbound" in html
