"""The browser side of the service: page routes, templates, SVG charts (CSRF: app.csrf)."""
