"""In-process controllers, started by post-start hooks and stopped with the server.

They use the server's Store registry the way upstream's controllers use the API, and keep
no state a restart would lose: each one finds its work again in storage when it starts.
The controller-manager issue moves them out of process as API clients.
"""
