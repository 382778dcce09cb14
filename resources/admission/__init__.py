"""Kind-aware admission plugins, each registered under its upstream name."""
