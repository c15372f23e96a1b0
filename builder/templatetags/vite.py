"""`{% vite_entry "src/main.tsx" %}`: the script and stylesheets of a Vite entry.

The frontend builds with Vite (`manifest: true`) into `static/build/`; its
manifest maps each source entry to the hashed files Vite wrote:

    {"src/main.tsx": {"file": "assets/main-3f2a.js", "isEntry": true,
                      "css": ["assets/main-9c1d.css"], "imports": ["_chunk-77ab.js"]},
     "_chunk-77ab.js": {"file": "assets/chunk-77ab.js", "css": [...]}}

The tag emits a module `<script>` for the entry, `<link rel="modulepreload">`
for the chunks it imports, and a stylesheet `<link>` for the entry's css and
that of every chunk it imports (recursively), all through `static()` so the
URLs follow STATIC_URL and whatever storage serves static files.

The manifest is read once and kept while its modification time stays the
same (re-read on every render when DEBUG). A missing manifest or entry
renders a visible message saying how to build the bundle, never a 500.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django import template
from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()
log = logging.getLogger("cairn.vite")

NOT_BUILT = mark_safe(
    "The canvas bundle is not built: run <code>make run</code> or "
    "<code>npm --prefix frontend run build</code>."
)
NOT_BUILT_STYLE = (
    "margin:2rem;padding:1rem 1.25rem;border:1px solid #d9822b;border-radius:8px;"
    "background:#fff7ed;color:#1f2933;font:15px/1.5 system-ui,sans-serif"
)


class ManifestError(Exception):
    """The manifest is missing, unreadable, or has no such entry."""


@dataclass(frozen=True)
class EntryFiles:
    script: str
    css: tuple[str, ...]
    preload: tuple[str, ...]


_lock = threading.Lock()
_cache: dict[str, tuple[int, dict[str, Any]]] = {}


def manifest_path() -> Path:
    return Path(settings.VITE_MANIFEST_PATH)


def load_manifest() -> dict[str, Any]:
    """The parsed manifest, cached by path and modification time."""
    path = manifest_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as error:
        raise ManifestError(f"no Vite manifest at {path}") from error
    key = str(path)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == mtime and not settings.DEBUG:
            return cached[1]
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ManifestError(f"the Vite manifest at {path} cannot be read: {error}") from error
    if not isinstance(manifest, dict):
        raise ManifestError(f"the Vite manifest at {path} is not a JSON object")
    with _lock:
        _cache[key] = (mtime, manifest)
    return manifest


def entry_files(manifest: dict[str, Any], entry: str) -> EntryFiles:
    """The entry's script, the css of it and of every chunk it imports, the chunks to preload."""
    chunk = manifest.get(entry)
    if not isinstance(chunk, dict) or not chunk.get("file"):
        raise ManifestError(f"the Vite manifest has no entry {entry!r}")
    css: list[str] = []
    preload: list[str] = []
    seen: set[str] = set()

    def visit(name: str, chunk: dict[str, Any], is_entry: bool) -> None:
        if name in seen:
            return
        seen.add(name)
        for sheet in chunk.get("css", ()):
            if sheet not in css:
                css.append(sheet)
        if not is_entry and chunk.get("file"):
            preload.append(chunk["file"])
        for imported in chunk.get("imports", ()):
            child = manifest.get(imported)
            if isinstance(child, dict):
                visit(imported, child, False)

    visit(entry, chunk, True)
    return EntryFiles(script=chunk["file"], css=tuple(css), preload=tuple(preload))


def build_url(file: str) -> str:
    return static(f"{settings.VITE_STATIC_PREFIX}{file}")


@register.simple_tag
def vite_entry(entry: str) -> SafeString:
    try:
        files = entry_files(load_manifest(), entry)
    except ManifestError as error:
        log.warning("%s", error)
        return format_html(
            '<div class="cairn-bundle-missing" role="alert" style="{}">'
            "{}<br><small>{}</small></div>",
            NOT_BUILT_STYLE,
            NOT_BUILT,
            str(error),
        )
    sheets = format_html_join(
        "", '<link rel="stylesheet" href="{}">', ((build_url(f),) for f in files.css)
    )
    preloads = format_html_join(
        "", '<link rel="modulepreload" href="{}">', ((build_url(f),) for f in files.preload)
    )
    script = format_html('<script type="module" src="{}"></script>', build_url(files.script))
    return sheets + preloads + script  # each part is escaped by format_html
