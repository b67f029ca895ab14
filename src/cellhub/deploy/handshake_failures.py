"""What went wrong when a hub and a worker could not agree on TLS, said in words.

An operator who copied the wrong file to a host should read "the worker's certificate does
not name 192.0.2.2" in the log, not an OpenSSL verify code. The end that refused knows
exactly why; a hub whose certificate a worker refused is told by the worker's alert, or,
when the connection ends before the alert arrives, says what to look for and where.
"""

from __future__ import annotations

import ssl

from cellhub.deploy.certificates import Role

#: OpenSSL verify codes for a certificate this deployment's CA did not sign.
NOT_FROM_OUR_CA = {
    2,  # unable to get issuer certificate
    7,  # certificate signature failure (another CA of the same name)
    18,  # self-signed certificate
    19,  # self-signed certificate in chain
    20,  # unable to get local issuer certificate
    21,  # unable to verify the first certificate
}
WRONG_NAME = {62, 64}  # hostname mismatch, IP address mismatch
WRONG_ROLE = 26  # unsuitable certificate purpose: the extended key usage of the other role
EXPIRED, NOT_YET_VALID = 10, 9
OTHER_ROLE: dict[Role, Role] = {"hub": "worker", "worker": "hub"}
#: The alerts a peer sends when it refuses our certificate, and what each means.
REFUSALS = {
    "TLSV1_ALERT_UNKNOWN_CA": "it is not signed by the {peer}'s CA",
    "TLSV1_ALERT_DECRYPT_ERROR": "it is not signed by the {peer}'s CA",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": "it is not a {own}'s",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "it has expired",
    "SSLV3_ALERT_BAD_CERTIFICATE": "it is not valid",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "there was none",
}


def explain(failure: BaseException, peer: Role, dialed: str = "") -> str:
    """Why the handshake with ``peer`` failed; ``dialed``: the host a hub dialed, which the
    worker's certificate must name."""
    code = getattr(failure, "verify_code", None)
    if code in NOT_FROM_OUR_CA:
        return f"the {peer}'s certificate is not signed by this deployment's CA"
    if code in WRONG_NAME:
        return f"the {peer}'s certificate does not name {dialed}"
    if code == WRONG_ROLE:
        return (
            f"the {peer}'s certificate is a {OTHER_ROLE[peer]}'s, not a {peer}'s "
            f"(issue one with `cellhub certs issue NAME --role {peer}`)"
        )
    if code in (EXPIRED, NOT_YET_VALID):
        return (
            f"the {peer}'s certificate {'has expired' if code == EXPIRED else 'is not valid yet'}"
        )
    reason = getattr(failure, "reason", None)
    if reason in REFUSALS:
        own = OTHER_ROLE[peer]
        why = REFUSALS[reason].format(peer=peer, own=own)
        return f"the {peer} refused this {own}'s certificate: {why}"
    if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return f"the {peer} presented no certificate"
    if reason in ("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION"):
        return f"the {peer} does not speak TLS 1.3"
    if reason in ("WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNEXPECTED_EOF_WHILE_READING"):
        return f"the {peer} does not speak TLS"
    if isinstance(failure, ssl.SSLError):
        return f"TLS with the {peer} failed: {failure}"
    return (
        f"the {peer} closed the connection before it answered: it may not accept "
        f"this {OTHER_ROLE[peer]}'s certificate (the {peer}'s log says why)"
    )
