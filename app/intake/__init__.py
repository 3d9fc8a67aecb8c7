"""A submission's way in: receive the upload, check and store it (accept, quotas), show it (views)."""
