"""The Jinja templates of the hub's HTML (``hub/templates/``), all built on ``page.html``'s
head: the worksheet page (hub/pages.py), the admin view (hub/admin.py), and the small form
pages built on ``form.html``: the refusal page of a
browser that may not see it (hub/access.py), the login form (hub/login_form.py) and the
sign-up form (hub/signup.py), the last two with ``account_form.html``'s one form.

Autoescaped, since both put what a request carries (its query) into the page.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from cellhub.hub.static_files import versioned_url

TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=True,
)

#: ``{{ static("app.css") }}``: a static file's versioned URL (hub/static_files.py).
TEMPLATES.globals["static"] = versioned_url
