"""The template process: started by the worker, imports IPython and the preload modules
once, then forks sessions on request. Code here runs in the template before any fork (a
session inherits it, but runs :mod:`cellhub.session`); it never runs user code."""
