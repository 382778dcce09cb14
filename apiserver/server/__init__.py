"""Serving: the ASGI handler chain, the Django bridge, TLS with client certificates, and the
server's lifecycle.  May import every apiserver package; never an app."""
