"""`{% vite_entry %}` finds the hashed bundle files through Vite's manifest.

Invariants: the page never names a file by hand (everything comes from the
manifest, through static()); a manifest rebuilt while the server runs is
picked up; a missing bundle shows how to build it instead of a 500.
"""

from __future__ import annotations

import json
import os

import pytest
from django.template import Context, Template

MANIFEST = {
    "src/main.tsx": {
        "file": "assets/main-AbC12345.js",
        "src": "src/main.tsx",
        "isEntry": True,
        "imports": ["_vendor-ZyX98765.js", "_shared-QwE45678.js"],
        "css": ["assets/main-Css11111.css"],
    },
    "_vendor-ZyX98765.js": {
        "file": "assets/vendor-ZyX98765.js",
        "imports": ["_shared-QwE45678.js"],
        "css": ["assets/vendor-Css22222.css"],
    },
    "_shared-QwE45678.js": {
        "file": "assets/shared-QwE45678.js",
        "css": ["assets/main-Css11111.css", "assets/shared-Css33333.css"],
    },
    "src/readonly.tsx": {
        "file": "assets/readonly-RrR00000.js",
        "src": "src/readonly.tsx",
        "isEntry": True,
        "imports": ["_vendor-ZyX98765.js"],
    },
}


def render(entry: str = "src/main.tsx") -> str:
    return Template('{% load vite %}{% vite_entry "' + entry + '" %}').render(Context())


@pytest.fixture
def manifest(tmp_path, settings):
    path = tmp_path / ".vite" / "manifest.json"
    path.parent.mkdir()
    path.write_text(json.dumps(MANIFEST))
    settings.VITE_MANIFEST_PATH = path
    settings.STATIC_URL = "/static/"
    return path


def test_entry_script_and_all_its_stylesheets_come_from_the_manifest(manifest):
    html = render()

    assert '<script type="module" src="/static/build/assets/main-AbC12345.js"></script>' in html
    # The entry's css, then the css of the chunks it imports, each once.
    sheets = [
        '<link rel="stylesheet" href="/static/build/assets/main-Css11111.css">',
        '<link rel="stylesheet" href="/static/build/assets/vendor-Css22222.css">',
        '<link rel="stylesheet" href="/static/build/assets/shared-Css33333.css">',
    ]
    for sheet in sheets:
        assert html.count(sheet) == 1
    assert html.index(sheets[0]) < html.index(sheets[1]) < html.index(sheets[2])
    assert '<link rel="modulepreload" href="/static/build/assets/vendor-ZyX98765.js">' in html
    # Stylesheets come before the script, so the app never paints unstyled.
    assert html.index(sheets[0]) < html.index("<script")


def test_the_readonly_entry_is_found_too(manifest):
    html = render("src/readonly.tsx")

    assert 'src="/static/build/assets/readonly-RrR00000.js"' in html
    assert "vendor-Css22222.css" in html
    assert "main-AbC12345.js" not in html


def test_urls_follow_static_url(manifest, settings):
    settings.STATIC_URL = "https://cdn.example.com/cairn/"

    html = render()

    assert 'src="https://cdn.example.com/cairn/build/assets/main-AbC12345.js"' in html


def test_a_rebuilt_manifest_is_read_again_without_a_restart(manifest, settings):
    settings.DEBUG = False
    assert "main-AbC12345.js" in render()

    rebuilt = json.loads(json.dumps(MANIFEST))
    rebuilt["src/main.tsx"]["file"] = "assets/main-NeW99999.js"
    manifest.write_text(json.dumps(rebuilt))
    stat = manifest.stat()
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))

    html = render()
    assert "main-NeW99999.js" in html
    assert "main-AbC12345.js" not in html


def test_an_unchanged_manifest_is_not_read_again_in_production(manifest, settings):
    settings.DEBUG = False
    render()
    stat = manifest.stat()
    # Same modification time, different content: the cached copy is used.
    manifest.write_text(json.dumps({}))
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert "main-AbC12345.js" in render()


def test_a_missing_manifest_shows_how_to_build_the_bundle(tmp_path, settings):
    settings.VITE_MANIFEST_PATH = tmp_path / "nowhere" / "manifest.json"

    html = render()

    assert 'role="alert"' in html
    assert "The canvas bundle is not built" in html
    assert "npm --prefix frontend run build" in html
    assert "<script" not in html


def test_an_entry_missing_from_the_manifest_shows_the_message(manifest):
    html = render("src/other.tsx")

    assert "The canvas bundle is not built" in html
    assert "src/other.tsx" in html
    assert "<script" not in html


def test_a_corrupt_manifest_shows_the_message(manifest):
    manifest.write_text("{not json")

    assert "The canvas bundle is not built" in render()


def test_debug_reads_the_manifest_on_every_render(manifest, settings):
    settings.DEBUG = True
    render()
    stat = manifest.stat()
    rebuilt = json.loads(json.dumps(MANIFEST))
    rebuilt["src/main.tsx"]["file"] = "assets/main-DeV77777.js"
    manifest.write_text(json.dumps(rebuilt))
    os.utime(manifest, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert "main-DeV77777.js" in render()
