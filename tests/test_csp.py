"""The Content-Security-Policy: sent on every page, no inline scripts allowed, and no template of the
portal's needs one (the browser side is tests/test_browser_csp.py)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Every template the portal serves: the project's tree and each app's own templates.
TEMPLATE_FILES = sorted(
    path
    for pattern in ("templates/**/*.html", "*/templates/**/*.html", "tests/plugin_app/templates/**/*.html")
    for path in ROOT.glob(pattern)
    if ".venv" not in path.parts and "email" not in path.parts  # e-mails are not served to a browser
)


def directives(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


@pytest.mark.django_db
def test_pages_carry_a_policy_without_inline_scripts(client, admin_user):
    client.force_login(admin_user)
    for url in ("/admin/login/", "/admin/", "/api/v1/docs/"):
        policy = directives(client.get(url))
        assert policy["script-src"][0] == "'self'", url
        assert "'unsafe-inline'" not in policy["script-src"] and "'unsafe-eval'" not in policy["script-src"], url
        assert "'unsafe-inline'" not in policy["style-src"], url
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], url


@pytest.mark.django_db
def test_the_api_docs_load_their_start_up_script_from_a_url(client, admin_user):
    client.force_login(admin_user)

    page = client.get("/api/v1/docs/").content.decode()
    script = client.get("/api/v1/docs/?script=")

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script in the API docs page"
    assert 'src="/api/v1/docs/?script="' in page
    assert script.status_code == 200 and script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_handler_or_style_attribute(path):
    text = path.read_text()

    assert not re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", text), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text), "inline event handler (onclick=…)"
    assert not re.search(r"\sstyle\s*=", text), "style attribute: use a class in a <style nonce> block"
    for tag in re.findall(r"<style[^>]*>", text):
        assert 'nonce="{{ request.csp_nonce }}"' in tag, f"<style> without the CSP nonce: {tag}"
