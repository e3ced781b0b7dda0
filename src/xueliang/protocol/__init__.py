"""Sans-IO wire formats (SIP, MANSCDP, SDP, RTP, PS). Imports only `xueliang.domain`."""
