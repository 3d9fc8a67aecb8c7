"""The browser side of the service: page routes, templates, SVG charts and CSRF protection."""
