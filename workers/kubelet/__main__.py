"""``python -m workers.kubelet --kubeconfig F --node-name NAME``: a kubelet without Django
(what ``up`` starts: lighter than ``manage.py kubelet``, same flags)."""
import sys

from workers.kubelet.kubelet import main

sys.exit(main())
