"""The public assistance portal (French): home, the mail form (24/7, through the same
ticket path as mail), the live chat page (opening hours; the form otherwise), legal
notices, the GDPR notice, the cookie policy, the accessibility statement, the site map,
the satisfaction survey reached by a tokenised link, and a minimal operator chat page.

Templates in ``templates/`` (Jinja2, autoescaped), static files in ``static/`` served by
the application itself (nothing from a CDN). Mounted by the main job (``web_pages.http``)
and runnable on its own with the chat: ``python -m web_pages`` (R-PORTAL: the public body
keeps the portal at the end of the contract).
"""
