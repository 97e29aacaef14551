"""Server-rendered HTML shared by the web surfaces: templates, static files, headers, forms, QR codes."""
