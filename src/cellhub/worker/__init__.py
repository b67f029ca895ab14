"""The worker daemon (``cellhub worker``): one asyncio process per host that accepts hubs,
keeps the template process running, and pumps each kernel's frames between its hubs and
its session. Code here runs in that process only; the template's code is in
:mod:`cellhub.template`, a session's in :mod:`cellhub.session`."""
