"""``patchwarden verify``: are these images signed by the signers we trust?"""

from __future__ import annotations

from pathlib import Path

import typer

from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    OutputFormat,
    emit_json,
    escape,
    load_settings,
    out,
    user_errors,
)
from patchwarden.errors import ExitCode, UsageError

HELP = """Verify the signatures of images, by digest. Fails closed.

Each IMAGE (repository:tag, repository@digest or repository:tag@digest) is resolved to its
digest, and the signatures attached to that digest are checked against the signers you name:

\b
  --key FILE       cosign public key (PEM: ECDSA P-256/P-384, RSA, Ed25519); signatures are
                   read from the tag sha256-<hex>.sig, as cosign, skopeo and podman write them
  --gpg-key FILE   OpenPGP public key; "simple signing" signatures are read from --lookaside
                   (a directory or URL laid out as skopeo's lookaside-staging writes it)

Several signers: --require any (default: one of them is enough) or all. Without --key and
--gpg-key the trust: rules of patchwarden.yaml that match each image are used.

A signature on a multi-arch index covers every platform of it; the result says which.
An image is "not verified" when no acceptable signature is found, when a signature is for
another digest, signed by another key, or its payload was edited, and also when the registry
fails while signatures are fetched (fail closed).

Exit codes: 0 every image verified; 6 some image not verified; 2 bad usage (unreadable key,
bad reference, nothing to verify against).

Examples:

\b
  patchwarden verify registry.example.com/team/app:1.4 --key cosign.pub
  patchwarden verify app@sha256:... --key a.pub --key b.pub --require all --format json
  patchwarden verify app:1.4 --gpg-key release.asc --lookaside /var/lib/sigstore
"""


def verify(
    images: list[str] = typer.Argument(..., metavar="IMAGE...", help="Images to verify."),
    key: list[Path] | None = typer.Option(
        None,
        "--key",
        "-k",
        metavar="PUBKEY.pem",
        envvar="PATCHWARDEN_VERIFY_KEY",
        help="cosign public key (repeatable).",
    ),
    gpg_key: list[Path] | None = typer.Option(
        None,
        "--gpg-key",
        metavar="FILE",
        envvar="PATCHWARDEN_VERIFY_GPG_KEY",
        help="OpenPGP public key for simple signing (repeatable; needs --lookaside).",
    ),
    lookaside: str | None = typer.Option(
        None,
        "--lookaside",
        metavar="DIR|URL",
        envvar="PATCHWARDEN_VERIFY_LOOKASIDE",
        help="Where OpenPGP signatures are stored (<base>/<repo>@sha256=<hex>/signature-N).",
    ),
    require: str = typer.Option(
        "any", "--require", metavar="any|all", help="With several signers: any one, or all."
    ),
    certificate_identity: str | None = typer.Option(
        None,
        "--certificate-identity",
        metavar="SUBJECT",
        help="Keyless (Fulcio certificate) subject. Not supported yet: exits 2.",
    ),
    certificate_oidc_issuer: str | None = typer.Option(
        None,
        "--certificate-oidc-issuer",
        metavar="URL",
        help="Keyless (Fulcio certificate) OIDC issuer. Not supported yet: exits 2.",
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.serialize.trust import verify_dict
        from patchwarden.app.trust.run import expected_from_flags, run_verify
        from patchwarden.app.wiring import build_client, build_verifier

        if certificate_identity or certificate_oidc_issuer:
            raise UsageError(
                "keyless verification (--certificate-identity/--certificate-oidc-issuer) is "
                "not supported yet",
                "verify with the signer's public key (--key) or OpenPGP key (--gpg-key)",
            )
        cfg, _ = load_settings(config, [Path.cwd()])
        expected = expected_from_flags(key or [], gpg_key or [], lookaside, require)
        with build_client(cfg) as client:
            results = run_verify(images, expected, cfg, build_verifier(cfg, client))
        ok = all(r.verified for r in results)
        if format == OutputFormat.json:
            emit_json(verify_dict(results))
        else:
            for r in results:
                style = "green" if r.verified else "red"
                out.print(
                    f"[bold {style}]{'verified' if r.verified else 'NOT VERIFIED'}[/] "
                    f"{escape(r.image)} {r.digest or ''}"
                )
                out.print(f"    {escape(r.reason)}")
                if r.coverage:
                    out.print(f"    covers: {escape(r.coverage)}")
        raise typer.Exit(int(ExitCode.OK if ok else ExitCode.UNTRUSTED))


def register(app: typer.Typer) -> None:
    app.command(name="verify", help=HELP)(verify)
