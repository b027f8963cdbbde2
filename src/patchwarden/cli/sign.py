"""``patchwarden sign``: sign images by digest with a key, in cosign's format."""

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
from patchwarden.cli.report import reporting
from patchwarden.errors import ExitCode

HELP = """Sign images with a private key, as `cosign sign --key` does.

Each IMAGE (repository:tag or repository@digest) is resolved to its digest (one HEAD request)
and that digest is signed: the "simple signing" payload (digest and repository) is signed
with the key and stored as a layer of the manifest tagged sha256-<hex>.sig in the same
repository; earlier signatures stay. Each signature is read back and verified with the key's
public half before the command reports success. No transparency-log entry is made (verify
with `cosign verify --insecure-ignore-tlog`, `patchwarden verify --key`, or a containers
policy.json `sigstoreSigned` rule).

Keys: cosign key files (cosign generate-key-pair) or PEM private keys (ECDSA, RSA, Ed25519).
The password comes from PATCHWARDEN_SIGNING_PASSWORD, else COSIGN_PASSWORD (empty for a key
without one); it is never printed.

Exit codes: 0 every image signed; 2 bad usage (unreadable key, wrong or missing password,
bad reference); 3 a registry error (nothing is reported signed that was not verified).

Examples:

\b
  COSIGN_PASSWORD=... patchwarden sign registry.example.com/team/app:1.4 --key cosign.key
  patchwarden sign app@sha256:... --key ec.pem --format json
"""


@reporting()
def sign(
    images: list[str] = typer.Argument(..., metavar="IMAGE...", help="Images to sign."),
    key: Path = typer.Option(
        ...,
        "--key",
        "-k",
        metavar="KEY",
        envvar="PATCHWARDEN_SIGN_KEY",
        help="Private key: a cosign key file or a PEM private key.",
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.serialize.trust import signed_dict
        from patchwarden.app.trust.signer import sign_images
        from patchwarden.app.wiring import build_client, build_signers

        cfg, _ = load_settings(config, [Path.cwd()])
        with build_client(cfg) as client:
            signed = sign_images(images, str(key), build_signers(cfg, client), client)
        if format == OutputFormat.json:
            emit_json(signed_dict(signed))
        else:
            for s in signed:
                out.print(f"[bold green]signed[/] {escape(s.image)}")
                out.print(f"    {escape(s.signature_tag)} by {escape(s.key)}")
        raise typer.Exit(int(ExitCode.OK))


def register(app: typer.Typer) -> None:
    app.command(name="sign", help=HELP)(sign)
