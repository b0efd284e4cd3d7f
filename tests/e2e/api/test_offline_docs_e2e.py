"""/docs and /redoc load every asset from the API itself: they work on a closed network."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.support.stacks import LiveStack

pytestmark = pytest.mark.e2e

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")
# A page's own config may name the spec; any other absolute URL is a CDN.
SPEC_URL = re.compile(r"""(?:url|spec-url)\s*[:=]\s*["']([^"']+)["']""")


def _assets(page: str) -> list[str]:
    return ASSET.findall(page) + SPEC_URL.findall(page)


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_and_every_asset_it_references_come_from_the_api(
    live: LiveStack, page: str
) -> None:
    """Each script, stylesheet, icon and the spec resolve on the API's own origin."""
    origin = urlsplit(live.api_url).netloc
    with httpx.Client(base_url=live.api_url, timeout=30) as http:
        resp = http.get(page)
        assert resp.status_code == 200, resp.text
        refs = _assets(resp.text)
        assert any(ref.endswith(".js") for ref in refs), refs  # the UI bundle itself
        for ref in refs:
            url = urljoin(f"{live.api_url}{page}", ref)
            assert urlsplit(url).netloc == origin, f"{page} loads {url} from elsewhere"
            asset = http.get(url)
            assert asset.status_code == 200, f"{url}: {asset.status_code}"
            assert asset.content, url


def test_the_openapi_spec_declares_the_bearer_scheme_so_swagger_shows_authorize(
    live: LiveStack,
) -> None:
    """securitySchemes has HTTP bearer and authenticated routes require it; /health doesn't."""
    spec = httpx.get(f"{live.api_url}/openapi.json", timeout=30).json()
    schemes = spec["components"]["securitySchemes"]
    assert {"type": "http", "scheme": "bearer"}.items() <= next(iter(schemes.values())).items()
    name = next(iter(schemes))
    assert spec["paths"]["/v1/batches"]["post"]["security"] == [{name: []}]
    assert spec["paths"]["/v1/jobs/{job_id}"]["get"]["security"] == [{name: []}]
    assert "security" not in spec["paths"]["/health"]["get"]
