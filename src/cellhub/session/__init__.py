"""A session: the process the template forks for one kernel, in its sandbox, running the
kernel's cells in IPython. Everything here runs in that process, which is hostile: what it
sends the worker is checked there (:mod:`cellhub.protocol.session_frames`)."""
