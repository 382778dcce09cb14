"""What the workers that serve HTTPS share: the kubelet's API and the metrics server.

Upstream both are built on k8s.io/apiserver's delegating pieces
(staging/src/k8s.io/apiserver/pkg/authentication/authenticatorfactory/delegating.go and
pkg/authorization/authorizerfactory/delegating.go): they trust client certificates of
configured CAs (and the front proxy's request headers), ask the API server about bearer
tokens with a TokenReview and about permissions with a SubjectAccessReview.

* ``https``: ``HttpsServer``, uvicorn on the running loop (many per process, no signal
  handling of its own), with the verified peer certificate in the ASGI scope.
* ``delegated``: ``DelegatedAuthenticator`` and ``DelegatedAuthorizer``.
"""
