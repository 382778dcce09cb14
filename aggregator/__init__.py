"""apiregistration.k8s.io: APIService, served by the AggregatorServer (the head of the server
chain), and the autoregistration of local APIServices for the groups this server serves.
Proxying to service-backed APIServices comes with the aggregator issue.
May import: apiserver (and resources' controller base)."""
