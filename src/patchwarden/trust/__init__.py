"""Signature formats and their cryptography: cosign key-based signatures (simple signing
payload), OpenPGP simple signing through ``gpg``. No registry I/O here (see app/trust)."""
