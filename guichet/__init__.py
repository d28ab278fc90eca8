"""Guichet's composition root: settings, the bootstrap that alone knows the concrete
classes, the web application that mounts every package's routes, and the ``guichet``
command line."""
