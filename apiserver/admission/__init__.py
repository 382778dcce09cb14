"""Admission: named plugins run as an ordered chain, all mutating ones before any
validating one.  Plugins register under their upstream names (``NamespaceLifecycle`` …)
from apps' ``ready()``; which run is decided by ``--enable-admission-plugins`` /
``--disable-admission-plugins`` and upstream's fixed order.

May import: apiserver.runtime and apiserver.authentication.user.
"""
