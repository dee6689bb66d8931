"""Stand-ins for the world outside, for tests and dry runs only; product code never imports this package.

``research_api_server`` is a local TikTok Research API written from the public spec: start it and point
``collect --api-base`` at it to rehearse a collection without credentials (docs/COLLECTING.md)."""
