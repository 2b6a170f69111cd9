"""SVG charts drawn by atende itself (no charting library, no CDN): the small writer every
chart uses (`svg`), the analytics page's charts and the evaluation's confidence curve."""
