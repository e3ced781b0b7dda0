"""GB/T 28181 signalling on asyncio: the SIP endpoint devices and lower platforms register with.

Bottom up: ``transport`` (UDP + TCP sockets on one port), ``endpoint`` (parsing, transactions, flood guard),
``presence`` (who is online, keepalive deadlines), ``registrar`` (REGISTER with digest), ``commands`` (our
requests and the matching of their answers), ``subscriptions`` (catalog SUBSCRIBE/NOTIFY), ``sync`` (the
throttled catalog synchronisation), ``service`` (routing and the operations the API calls).
"""
