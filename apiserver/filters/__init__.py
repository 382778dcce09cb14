"""HTTP filters: one tiny ASGI wrapper per file, composed once, outermost first, in
``apiserver.server.handler_chain.build_handler_chain``.  No filter reads the body except the
body-limit filter, which only counts it.

May import: apiserver.runtime, apiserver.registry.context, apiserver.authentication,
apiserver.authorization.
"""
