"""Authentication: authenticators return a user, no opinion (None), or raise Unauthorized;
the union tries them in upstream order.  May import: apiserver.runtime."""
